"""Room membership decides which rooms' counts a presence socket follows.

Members change from rooms' services, orders' services and the admin alike, so
the change is caught here; the receiver only schedules, broadcasts.py sends.
"""

from __future__ import annotations

from django.db.models.signals import m2m_changed
from django.dispatch import receiver

from presence import broadcasts
from realtime.aftercommit import after_commit
from rooms.models import Room


@receiver(m2m_changed, sender=Room.members.through)
def _room_members_changed(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    if action == "pre_clear":
        # post_clear no longer knows who was there.
        related = instance.chat_rooms if reverse else instance.members
        pk_set = set(related.values_list("pk", flat=True))
    elif action not in ("post_add", "post_remove"):
        return
    if not pk_set:
        return
    room_ids, user_ids = (sorted(pk_set), [instance.pk]) if reverse else ([instance.pk], sorted(pk_set))
    # The membership is committed already; a failed push must not fail the request.
    after_commit(broadcasts.room_members_changed, room_ids=room_ids, user_ids=user_ids)
