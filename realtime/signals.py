"""Revocation: sockets close the moment their user logs out, is deactivated or
is deleted.

Receivers only schedule the push on commit; the push itself is config.fanout's.
"""

from __future__ import annotations

from functools import partial

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from realtime import groups
from realtime.consumers import CLOSE_NO_CREDENTIALS, CLOSE_USER_INVALID
from realtime.fanout import publish_sync


def close_user_sockets(user_id: int, code: int) -> None:
    publish_sync(groups.user_sockets(user_id), close=code)


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs) -> None:
    if user is not None:
        transaction.on_commit(partial(close_user_sockets, user.pk, CLOSE_NO_CREDENTIALS))


@receiver(post_save, sender=get_user_model())
def _user_saved(sender, instance, created, update_fields=None, **kwargs) -> None:
    if not created and not instance.is_active:
        transaction.on_commit(partial(close_user_sockets, instance.pk, CLOSE_USER_INVALID))


@receiver(post_delete, sender=get_user_model())
def _user_deleted(sender, instance, **kwargs) -> None:
    # The open sockets still hold the user object; without this they would live on.
    transaction.on_commit(partial(close_user_sockets, instance.pk, CLOSE_USER_INVALID))
