"""Revocation: a user's open sockets follow what happens to the user, from
wherever it happens (a view, allauth's forms, the admin, the shell).

- logged out: every socket closes (4001);
- deactivated or deleted: every socket closes (4002);
- password changed or reset: every API token issued before stops working, token
  sockets close (4003), cookie sockets of the user's other sessions close (4001);
- a role gained or lost (the `boosters`/`managers` groups, `is_staff`): every
  socket re-checks what it may see, and closes (4004) or narrows if it lost it.

Receivers only schedule the push on commit (`realtime.aftercommit`); the push
itself is realtime.fanout's, and what a socket does with it realtime.consumers'.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import m2m_changed, post_delete, post_init, post_save
from django.dispatch import receiver

from realtime import groups
from realtime.aftercommit import after_commit
from realtime.consumers import CLOSE_NO_CREDENTIALS, CLOSE_USER_INVALID
from realtime.fanout import publish_many_sync, publish_sync
from realtime.roles import ROLE_GROUPS

User = get_user_model()
# What a user row held when it was loaded, to tell a role change from any save.
_LOADED_IS_STAFF = "_realtime_loaded_is_staff"


def close_user_sockets(user_id: int, code: int) -> None:
    publish_sync(groups.user_sockets(user_id), close=code)


def credentials_changed(user_id: int, keep_session: str | None = None) -> None:
    """The user's password changed: token sockets and other sessions' sockets close."""
    publish_sync(groups.user_sockets(user_id), credentials_changed=True, keep_session=keep_session)


def access_changed(user_ids: Iterable[int]) -> None:
    """These users' roles changed: each of their sockets re-checks what it may see."""
    publish_many_sync([(groups.user_sockets(pk), {"access_changed": True}) for pk in user_ids])


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs) -> None:
    if user is not None:
        after_commit(close_user_sockets, user.pk, CLOSE_NO_CREDENTIALS)


@receiver(post_init, sender=User)
def _user_loaded(sender, instance, **kwargs) -> None:
    # Only when loaded: reading a deferred field here would cost a query per row.
    if "is_staff" in instance.__dict__:
        instance.__dict__[_LOADED_IS_STAFF] = instance.is_staff


@receiver(post_save, sender=User)
def _user_saved(sender, instance, created, update_fields=None, raw=False, **kwargs) -> None:
    if created or raw:
        instance.__dict__[_LOADED_IS_STAFF] = instance.is_staff
        return
    if not instance.is_active:
        after_commit(close_user_sockets, instance.pk, CLOSE_USER_INVALID)
    # set_password() keeps the new password until the save; a hash upgrade at
    # login (check_password's setter) clears it first, so it does not count.
    if getattr(instance, "_password", None) is not None:
        from realtime.auth import password_changed

        password_changed(user=instance)
    loaded = instance.__dict__.get(_LOADED_IS_STAFF)
    if loaded is not None and loaded != instance.is_staff:
        after_commit(access_changed, [instance.pk])
    instance.__dict__[_LOADED_IS_STAFF] = instance.is_staff


@receiver(post_delete, sender=User)
def _user_deleted(sender, instance, **kwargs) -> None:
    # The open sockets still hold the user object; without this they would live on.
    after_commit(close_user_sockets, instance.pk, CLOSE_USER_INVALID)


@receiver(m2m_changed, sender=User.groups.through)
def _user_groups_changed(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    """Roles are groups: `user.groups.remove(...)`, `group.user_set.add(...)`, the admin's form."""
    if reverse:  # instance is the Group, pk_set the users
        if instance.name not in ROLE_GROUPS:
            return
        if action == "pre_clear":
            # post_clear no longer knows who was in it.
            instance.__dict__["_realtime_clearing"] = list(instance.user_set.values_list("pk", flat=True))
            return
        if action == "post_clear":
            user_ids = instance.__dict__.pop("_realtime_clearing", [])
        elif action in ("post_add", "post_remove"):
            user_ids = sorted(pk_set or ())
        else:
            return
    else:  # instance is the user, pk_set the groups
        if action not in ("post_add", "post_remove", "post_clear"):
            return
        if action != "post_clear" and not Group.objects.filter(pk__in=pk_set or (), name__in=ROLE_GROUPS).exists():
            return
        user_ids = [instance.pk]
    if user_ids:
        after_commit(access_changed, user_ids)
