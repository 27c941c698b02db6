"""One table: who may open what, over HTTP and over WebSockets.

Roles: anonymous, the order's customer, another customer, the assigned booster,
another booster, a manager, an admin, a group's room admin, and a member removed
from the group (who was also the order's previous booster).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from channels.db import database_sync_to_async

from orders import services as order_services
from orders.models import Order
from rooms import services as room_services
from tests.conftest import expect_close

ROLES = (
    "anonymous",
    "customer",
    "other_customer",
    "booster",
    "other_booster",
    "manager",
    "admin",
    "room_admin",
    "removed",
)


@dataclass
class World:
    users: dict
    order: Order
    group_name: str
    staff_room: str
    booster_room: str


def build_world(make_user) -> World:
    users = {
        "customer": make_user("customer"),
        "other_customer": make_user("other_customer"),
        "booster": make_user("booster", role="booster"),
        "other_booster": make_user("other_booster", role="booster"),
        "manager": make_user("manager", role="manager"),
        "admin": make_user("admin", role="admin"),
        "room_admin": make_user("room_admin"),
        "removed": make_user("removed", role="booster"),
    }
    order = order_services.order_create(
        customer=users["customer"], current_rank="silver", current_division=2, desired_rank="gold", desired_division=4
    )
    # The removed booster held the order first, then a manager reassigned it.
    order_services.order_assign(order=order, booster=users["removed"], by=users["manager"])
    order.refresh_from_db()
    order_services.order_assign(order=order, booster=users["booster"], by=users["manager"])
    order.refresh_from_db()
    group = room_services.room_create_group(creator=users["room_admin"], name="squad")
    group.members.add(users["removed"])
    room_services.room_update(
        room=group, by=users["room_admin"], title="Squad", retention_days=None, remove_user_ids=[users["removed"].pk]
    )
    users["anonymous"] = None
    return World(
        users=users,
        order=order,
        group_name=group.name,
        staff_room=order.staff_room.name,
        booster_room=order.booster_room.name,
    )


OK, DENIED = "ok", "denied"
ALL_SIGNED_IN = {role: OK for role in ROLES if role != "anonymous"}
STAFF_AND = lambda *roles: {role: (OK if role in (*roles, "manager", "admin") else DENIED) for role in ROLES[1:]}  # noqa: E731

# endpoint -> expected outcome per signed-in role (anonymous is always refused).
MATRIX = {
    "public chat": ("/chat/public-chat/", "/ws/chatroom/public-chat/", ALL_SIGNED_IN),
    "group chat": (
        "/chat/{group}/",
        "/ws/chatroom/{group}/",
        {role: (OK if role == "room_admin" else DENIED) for role in ROLES[1:]},
    ),
    "order staff chat": ("/chat/{staff_room}/", "/ws/chatroom/{staff_room}/", STAFF_AND("customer")),
    "order booster chat": ("/chat/{booster_room}/", "/ws/chatroom/{booster_room}/", STAFF_AND("customer", "booster")),
    "order page": ("/orders/{order}/", "/ws/orders/{order}/", STAFF_AND("customer", "booster")),
    "dashboard": ("/dashboard/", "/ws/orders/", ALL_SIGNED_IN),
    "presence": (None, "/ws/online-status/", ALL_SIGNED_IN),
    "chat api": (
        "/api/rooms/{group}/messages/",
        None,
        {role: (OK if role == "room_admin" else DENIED) for role in ROLES[1:]},
    ),
}
HTTP_CASES = [(name, role) for name, row in MATRIX.items() if row[0] for role in ROLES]
SOCKET_CASES = [(name, role) for name, row in MATRIX.items() if row[1] for role in ROLES]


def fill(template: str, world: World) -> str:
    return template.format(
        group=world.group_name,
        order=world.order.pk,
        staff_room=world.staff_room,
        booster_room=world.booster_room,
    )


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint, role", HTTP_CASES)
def test_http(endpoint, role, make_user, client_for):
    path, _, expected = MATRIX[endpoint]
    world = build_world(make_user)
    response = client_for(world.users[role]).get(fill(path, world))
    if role == "anonymous":
        assert response.status_code in (302, 401)
        if response.status_code == 302:
            assert "/accounts/login/" in response["Location"]
    elif expected[role] == OK:
        assert response.status_code == 200, (endpoint, role)
    else:
        assert response.status_code == 404, (endpoint, role)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("endpoint, role", SOCKET_CASES)
async def test_socket(endpoint, role, make_user, socket_for):
    _, path, expected = MATRIX[endpoint]
    world = await database_sync_to_async(build_world)(make_user)
    socket = await socket_for(fill(path, world), world.users[role])
    if role == "anonymous":
        await expect_close(socket, 4001)
    elif expected[role] == OK:
        connected, _ = await socket.connect()
        assert connected
        assert await socket.receive_nothing(timeout=0.1) or (await socket.receive_output())["type"] != "websocket.close"
        await socket.disconnect()
    else:
        await expect_close(socket, 4004)
