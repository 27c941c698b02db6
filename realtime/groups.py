"""Every channel-layer group name in the project, derived from primary keys.

User input never reaches a group name, so no name can be invalid or collide.
"""

from __future__ import annotations

STAFF = "staff"
BOOSTERS = "boosters"
PRESENCE = "presence"
# Every process with an order socket: one small event per order change, which
# each of them renders for the order groups its own sockets are in.
ORDER_CHANGES = "order-changes"


def room(room_id: int) -> str:
    return f"room-{room_id}"


def room_presence(room_id: int) -> str:
    return f"room-{room_id}-presence"


def room_activity(room_id: int) -> str:
    """Every page of the room's readers: one small event per message, the same
    bytes for all, from which each page updates its own badges."""
    return f"room-{room_id}-activity"


def order(order_id: int) -> str:
    return f"order-{order_id}"


def user(user_id: int) -> str:
    return f"user-{user_id}"


def user_unread(user_id: int) -> str:
    """Every page of one user: their unread state after they read or mute."""
    return f"user-{user_id}-unread"


def user_sockets(user_id: int) -> str:
    """Every socket of one user, whatever page it serves: for revocation."""
    return f"user-{user_id}-sockets"
