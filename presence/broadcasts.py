"""Presence fragments: rendered once per change and pushed to everyone in scope.

`groups.PRESENCE` (every signed-in socket) gets the site-wide count and the dots
of the users whose status changed; `groups.room_presence(pk)` (only sockets of
users who may read the room) gets that room's online count. When a room's
members change, `groups.user_sockets(pk)` of each of them tells their presence
sockets to re-check which rooms they follow.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from channels.db import database_sync_to_async
from django.template.loader import render_to_string

from presence import selectors
from realtime import groups
from realtime.fanout import publish, publish_sync


def online_count_html(*, online: set[int]) -> str:
    return render_to_string("presence/online_count.html", {"online_count": len(online), "oob": True})


def room_count_html(*, room_id: int, count: int) -> str:
    return render_to_string("presence/room_online_count.html", {"room_id": room_id, "count": count, "oob": True})


@lru_cache(maxsize=20_000)
def _dot_html(person_id: int, online: bool) -> str:
    return render_to_string("presence/_dot.html", {"person_id": person_id, "online": online, "oob": True})


def dots_html(dots: Iterable[tuple[int, bool]]) -> str:
    """Out-of-band dots for (user id, online) pairs.

    A dot depends on nothing else, so each is rendered once per process: a
    connect storm would otherwise render every online user's dot per socket.
    """
    return "".join(_dot_html(person_id, online) for person_id, online in dots)


def render_presence_changes(*, online: set[int], changed: set[int]) -> list[tuple[str, str]]:
    """(group, html) pairs: one fragment per scope for this change."""
    dots = dots_html((user_id, user_id in online) for user_id in sorted(changed))
    global_html = online_count_html(online=online) + dots
    fragments = [(groups.PRESENCE, global_html)]
    counts = selectors.room_online_counts(room_ids=selectors.rooms_touched_by(user_ids=changed), online=online)
    for room_id, count in sorted(counts.items()):
        fragments.append((groups.room_presence(room_id), room_count_html(room_id=room_id, count=count)))
    return fragments


async def broadcast_presence_changes(*, online: set[int], changed: set[int]) -> None:
    fragments = await database_sync_to_async(render_presence_changes)(online=online, changed=changed)
    for group, html in fragments:
        await publish(group, html=html)


# Carries no html, so the user's other sockets (chat, orders) ignore it.
ROOMS_CHANGED = "presence_rooms_changed"


def room_members_changed(*, room_ids: list[int], user_ids: list[int]) -> None:
    """Members came or went: their presence sockets join or leave these rooms'
    groups first, then whoever follows a room now gets its new count."""
    for user_id in user_ids:
        publish_sync(groups.user_sockets(user_id), **{ROOMS_CHANGED: True})
    counts = selectors.room_online_counts(room_ids=room_ids, online=selectors.online_user_ids())
    for room_id, count in sorted(counts.items()):
        publish_sync(groups.room_presence(room_id), html=room_count_html(room_id=room_id, count=count))


def render_room_counts(*, room_ids: list[int]) -> str:
    """Counts for rooms a socket has just started following: the push that told
    the others may have gone out before it joined."""
    counts = selectors.room_online_counts(room_ids=room_ids, online=selectors.online_user_ids())
    return "".join(room_count_html(room_id=room_id, count=count) for room_id, count in sorted(counts.items()))


# A page may render while someone is between two pages (briefly offline) and no
# change follows to correct it, so a new socket also gets the online users' dots.
SNAPSHOT_DOTS_MAX = 500


def render_snapshot(*, room_ids: list[int]) -> str:
    """What a socket gets when it connects: counts and dots may have moved since its page rendered."""
    online = selectors.online_user_ids()
    counts = selectors.room_online_counts(room_ids=room_ids, online=online)
    return (
        online_count_html(online=online)
        + "".join(room_count_html(room_id=room_id, count=count) for room_id, count in sorted(counts.items()))
        + dots_html((user_id, True) for user_id in sorted(online)[:SNAPSHOT_DOTS_MAX])
    )
