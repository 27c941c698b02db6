"""Every channel-layer group name in the project, derived from primary keys.

User input never reaches a group name, so no name can be invalid or collide.
"""

from __future__ import annotations

STAFF = "staff"
BOOSTERS = "boosters"
PRESENCE = "presence"


def room(room_id: int) -> str:
    return f"room-{room_id}"


def room_presence(room_id: int) -> str:
    return f"room-{room_id}-presence"


def order(order_id: int) -> str:
    return f"order-{order_id}"


def user(user_id: int) -> str:
    return f"user-{user_id}"


def user_sockets(user_id: int) -> str:
    """Every socket of one user, whatever page it serves: for revocation."""
    return f"user-{user_id}-sockets"
