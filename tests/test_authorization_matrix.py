"""Who may use what: one table of every HTTP endpoint (HTTP_TABLE) and one of
every socket (SOCKET_TABLE), each run over the session cookie and an API token.

Roles: anonymous; the order's customer; another customer (a plain member of the
group); the order's booster; another booster; a manager; an admin; the group's
room admin; a member removed from the group (also the order's previous booster).

Each HTTP row says which roles are allowed. An allowed role must get the row's
success status *and* the effect (a POST must have happened); any other role must
be refused (401/403/404, a login redirect, or the row's own refusal) and leave
the database exactly as it was. Every request runs in a savepoint that is rolled
back, so one data set, built once per class, serves every row.

Over the token transport the JSON API gets `Authorization: Bearer`; HTML pages
get the same header and must ignore it (a token is not a browser session), so
every role there is expected to fare like anonymous.

Sockets (`?token=` on the token transport) are opened all at once per
transport; an allowed socket must stay open for SOCKET_SETTLE_SECONDS after its
accept (a late close counts as a refusal), a refused one is accepted and closed
with 4004, anonymous with 4001 (or, with neither cookie, token nor Origin, is
refused at the handshake).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client, override_settings
from PIL import Image

from accounts import services as account_services
from accounts.models import Avatar, Preferences
from orders import services as order_services
from orders.models import BoosterApproval, Order, OrderEvent, ProofScreenshot
from realtime import auth
from realtime.consumers import resync_frame
from realtime.models import TokenRevocation
from rooms import selectors as room_selectors
from rooms import services as room_services
from rooms.models import Message, Reaction, ReadState, Room, RoomChange, RoomInvite
from tests.conftest import session_headers
from uploads.validation import validate_upload

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
SIGNED_IN = frozenset(ROLES) - {"anonymous"}
EVERYONE = frozenset(ROLES)
STAFF = frozenset({"manager", "admin"})
BOOSTERS = frozenset({"booster", "other_booster", "removed"})
CUSTOMERS = frozenset({"customer", "other_customer", "room_admin"})
GROUP = frozenset({"room_admin", "other_customer"})  # the group's members today
ORDER = frozenset({"customer", "booster"}) | STAFF  # who sees the assigned order
OPEN_ORDER = frozenset({"customer"}) | STAFF | BOOSTERS  # an unclaimed order: every booster may look
PRIVATE_TARGET = "manager"  # /chat/private/<this user>/: everyone but them gets a room
NOT_TARGET = SIGNED_IN - {PRIVATE_TARGET}

SOCKET_SETTLE_SECONDS = 0.5


# THE DATA SET


@dataclass
class World:
    users: dict[str, User | None]
    order: Order  # customer's, in progress at its goal, booster reassigned from `removed`
    open_order: Order  # customer's, pending: on every booster's claim list
    group: Room  # admin room_admin, member other_customer; `removed` was removed
    staff_room: Room
    booster_room: Room
    group_message: Message
    attachment: Message  # an image in the order's booster room
    proof: ProofScreenshot
    tokens: dict[str, str] = field(default_factory=dict)
    invite: str = ""  # the group's invite token (made before `removed` was removed)
    avatars: dict[str, str] = field(default_factory=dict)  # each role's picture version (with files)

    def fill(self, template: str) -> str:
        return template.format(
            group=self.group.name,
            staff_room=self.staff_room.name,
            booster_room=self.booster_room.name,
            order=self.order.pk,
            open_order=self.open_order.pk,
            before=self.group_message.pk + 1,
            message=self.group_message.pk,
            attachment=self.attachment.pk if self.attachment else None,
            proof=self.proof.pk if self.proof else None,
            target=PRIVATE_TARGET,
            booster=self.users["booster"].pk,
            invite=self.invite,
            avatar_user=self.users["booster"].pk,
            avatar_version=self.avatars.get("booster", "none"),
        )


def png_bytes() -> bytes:
    out = BytesIO()
    Image.new("RGB", (40, 30), (30, 120, 200)).save(out, format="PNG")
    return out.getvalue()


def make_person(username: str, role: str) -> User:
    user = User.objects.create_user(
        username=username, email=f"{username}@example.com", password="matrix-pass-1", is_staff=role == "admin"
    )
    if role in ("booster", "manager"):
        user.groups.add(Group.objects.get_or_create(name=f"{role}s")[0])
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)
    return user


def build_world(*, with_files: bool) -> World:
    kinds = {"booster": "booster", "other_booster": "booster", "removed": "booster", "manager": "manager"}
    users: dict[str, User | None] = {role: make_person(role, kinds.get(role, role)) for role in SIGNED_IN}
    users["anonymous"] = None
    customer, booster, manager = users["customer"], users["booster"], users["manager"]
    for role in BOOSTERS:  # each may claim every League of Legends order
        order_services.booster_approval_set(booster=users[role], game="lol", max_tier="challenger", by=users["admin"])
    order = order_services.order_create(
        customer=customer, current_rank="silver", current_division=2, desired_rank="gold", desired_division=4
    )
    order = order_services.order_assign(order=order, booster=users["removed"], by=manager)
    order = order_services.order_assign(order=order, booster=booster, by=manager)
    order = order_services.order_status_set(order=order, status=Order.Status.IN_PROGRESS, by=booster)
    # At the goal, so its booster may mark it complete (progress may still be reported below it).
    order = order_services.order_progress_update(
        order=order, booster=booster, reached_rank="gold", reached_division=4, reached_points=0
    )
    open_order = order_services.order_create(
        customer=customer, current_rank="iron", current_division=1, desired_rank="bronze", desired_division=2
    )
    group = room_services.room_create_group(creator=users["room_admin"], name="squad", title="Squad")
    for member in (users["other_customer"], users["removed"]):
        room_services.room_join(room=group, user=member)
    room_services.room_update(
        room=group, by=users["room_admin"], title="Squad", retention_days=None, remove_user_ids=[users["removed"].pk]
    )
    group_message = room_services.message_post(room=group, author=users["room_admin"], body="welcome")
    # Edited once, so it has an earlier version to show.
    group_message = room_services.message_edit(message=group_message, by=users["room_admin"], body="welcome, all")
    order = Order.objects.select_related("staff_room", "booster_room").get(pk=order.pk)
    attachment = proof = None
    avatars = {}
    if with_files:
        image = validate_upload(SimpleUploadedFile("shot.png", png_bytes()), images_only=True)
        attachment = room_services.message_post(room=order.booster_room, author=booster, body="", attachment=image)
        proof = order_services.proof_add(order=order, booster=booster, file=image)
        # Everyone has a picture, so replacing and removing one are both real changes.
        for role in SIGNED_IN:
            avatars[role] = account_services.avatar_set(user=users[role], image=image).version
    return World(
        users=users,
        order=order,
        open_order=open_order,
        group=group,
        staff_room=order.staff_room,
        booster_room=order.booster_room,
        group_message=group_message,
        attachment=attachment,
        proof=proof,
        tokens={role: auth.token_issue(user=user) for role, user in users.items() if user is not None},
        invite=room_selectors.invite_live(room=group).token,
        avatars=avatars,
    )


def isolated_services() -> dict[str, Any]:
    """Channel layer and cache under a prefix of their own (Redis is shared)."""
    prefix = f"matrix-{uuid.uuid4().hex[:12]}"
    layers = {name: {**conf} for name, conf in django_settings.CHANNEL_LAYERS.items()}
    for conf in layers.values():
        if "prefix" in conf.get("CONFIG", {}):
            conf["CONFIG"] = {**conf["CONFIG"], "prefix": f"{prefix}:asgi"}
    caches = {name: {**conf, "KEY_PREFIX": f"{prefix}:cache"} for name, conf in django_settings.CACHES.items()}
    return {"CHANNEL_LAYERS": layers, "CACHES": caches, "REDIS_PREFIX": prefix}


# HTTP


def state() -> tuple:
    """Everything a request could change; a refused request changes none of it."""
    return (
        list(Message.objects.order_by("pk").values_list("pk", "room_id", "body", "deleted_at")),
        list(Reaction.objects.order_by("pk").values_list("message_id", "user_id", "emoji")),
        RoomChange.objects.count(),
        list(Room.objects.order_by("pk").values_list("pk", "name", "title", "admin_id")),
        sorted(Room.members.through.objects.values_list("room_id", "user_id")),
        list(
            Order.objects.order_by("pk").values_list(
                "pk", "status", "booster_id", "reached_rank", "reached_division", "reached_points"
            )
        ),
        OrderEvent.objects.count(),
        ProofScreenshot.objects.count(),
        sorted(BoosterApproval.objects.values_list("booster_id", "game", "max_tier")),
        list(TokenRevocation.objects.values_list("user_id", flat=True)),
        list(RoomInvite.objects.order_by("pk").values_list("pk", "revoked_at", "expires_at")),
        sorted(ReadState.objects.values_list("user_id", "room_id", "last_read_id", "muted")),
        sorted(Preferences.objects.values_list("user_id", "theme", "email_enabled", "email_window_minutes")),
        sorted(Avatar.objects.values_list("user_id", "thumbnail")),
    )


Done = Callable[[World, User, Any], bool]


# fmt: off
HTTP_TABLE = [
    # endpoint                   method  path                                          allowed roles
    ("public room page",         "GET",  "/chat/public-chat/",                         SIGNED_IN),
    ("group room page",          "GET",  "/chat/{group}/",                             GROUP),
    ("order staff room page",    "GET",  "/chat/{staff_room}/",                        {"customer"} | STAFF),
    ("order booster room page",  "GET",  "/chat/{booster_room}/",                      ORDER),
    ("older messages",           "GET",  "/chat/older/{group}/?before={before}",       GROUP),
    ("fallback send",            "POST", "/chat/{group}/messages/",                    GROUP),
    ("fallback reply",           "POST", "/chat/{group}/messages/",                    GROUP),
    ("fallback edit",            "POST", "/chat/{group}/messages/",                    {"room_admin"}),
    ("fallback delete",          "POST", "/chat/{group}/messages/",                    {"room_admin"}),
    ("fallback react",           "POST", "/chat/{group}/messages/",                    GROUP),
    ("room page at a message",   "GET",  "/chat/{group}/?around={message}",            GROUP),
    ("earlier versions",         "GET",  "/chat/{group}/messages/{message}/versions/", {"room_admin"}),
    ("search everywhere",        "GET",  "/chat/search/?q=welcome",                    SIGNED_IN),
    ("search in the group",      "GET",  "/chat/search/?q=welcome&room={group}",       GROUP),
    ("upload",                   "POST", "/chat/upload/{group}/",                      GROUP),
    ("edit page",                "GET",  "/chat/{group}/edit/",                        {"room_admin"}),
    ("edit",                     "POST", "/chat/{group}/edit/",                        {"room_admin"}),
    ("delete page",              "GET",  "/chat/{group}/delete/",                      {"room_admin", "admin"}),
    ("delete",                   "POST", "/chat/{group}/delete/",                      {"room_admin", "admin"}),
    ("leave page",               "GET",  "/chat/{group}/leave/",                       GROUP),
    ("leave",                    "POST", "/chat/{group}/leave/",                       GROUP),
    ("add member by username",   "POST", "/chat/{group}/members/",                     {"room_admin"}),
    ("chat index",               "GET",  "/chat/",                                     SIGNED_IN),
    ("join page",                "GET",  "/chat/join/{invite}/",                       SIGNED_IN - {"removed"}),
    ("join",                     "POST", "/chat/join/{invite}/",                       SIGNED_IN - {"removed"}),
    ("join by the room's name",  "POST", "/chat/{group}/join/",                        frozenset()),
    ("join with a forged token", "POST", "/chat/join/{group}/",                        frozenset()),
    ("invite link replace",      "POST", "/chat/{group}/invite/",                      {"room_admin"}),
    ("invite link revoke",       "POST", "/chat/{group}/invite/",                      {"room_admin"}),
    ("new group page",           "GET",  "/chat/new/",                                 SIGNED_IN),
    ("new group",                "POST", "/chat/new/",                                 SIGNED_IN),
    ("private room",             "GET",  "/chat/private/{target}/",                    NOT_TARGET),
    ("people search",            "GET",  "/chat/people/?q=o",                          SIGNED_IN),
    ("chat list",                "GET",  "/chat/",                                     SIGNED_IN),
    ("chat lists refresh",       "GET",  "/chat/lists/?current=1",                     SIGNED_IN),
    ("mark read",                "POST", "/chat/{group}/read/",                        GROUP),
    ("mute",                     "POST", "/chat/{group}/mute/",                        GROUP),
    ("account settings page",    "GET",  "/accounts/settings/",                        SIGNED_IN),
    ("account settings",         "POST", "/accounts/settings/",                        SIGNED_IN),
    ("picture upload",           "POST", "/accounts/settings/avatar/",                 SIGNED_IN),
    ("picture remove",           "POST", "/accounts/settings/avatar/remove/",          SIGNED_IN),
    # Anyone's picture, to anyone signed in: it shows beside every message they can read.
    ("profile picture",          "GET",  "/accounts/avatars/{avatar_user}/{avatar_version}/", SIGNED_IN),
    ("push unsubscribe",         "POST", "/notifications/push/unsubscribe/",           SIGNED_IN),
    ("attachment download",      "GET",  "/files/message/{attachment}/",               ORDER),
    ("attachment thumbnail",     "GET",  "/files/message/{attachment}/thumb/",         ORDER),
    ("order page",               "GET",  "/orders/{order}/",                           ORDER),
    ("unclaimed order page",     "GET",  "/orders/{open_order}/",                      OPEN_ORDER),
    ("claim",                    "POST", "/orders/{open_order}/claim/",                BOOSTERS),
    ("assign",                   "POST", "/orders/{order}/assign/",                    STAFF),
    ("status",                   "POST", "/orders/{order}/status/",                    {"booster"} | STAFF),
    ("progress",                 "POST", "/orders/{order}/progress/",                  {"booster"}),
    ("complete",                 "POST", "/orders/{order}/complete/",                  {"booster"} | STAFF),
    ("cancel (in progress)",     "POST", "/orders/{order}/cancel/",                    STAFF),
    ("cancel (unclaimed)",       "POST", "/orders/{open_order}/cancel/",               {"customer"} | STAFF),
    ("proof upload",             "POST", "/orders/{order}/proofs/",                    {"booster"}),
    ("proof file",               "GET",  "/orders/{order}/proofs/{proof}/",            ORDER),
    ("proof thumbnail",          "GET",  "/orders/{order}/proofs/{proof}/thumbnail/",  ORDER),
    ("dashboard",                "GET",  "/dashboard/",                                SIGNED_IN),
    ("my orders",                "GET",  "/orders/",                                   SIGNED_IN),
    ("booster approvals page",   "GET",  "/staff/boosters/",                           STAFF),
    ("booster approvals",        "POST", "/staff/boosters/{booster}/",                 STAFF),
    ("new order",                "POST", "/orders/new/",                               CUSTOMERS),
    ("price preview",            "GET",  "/orders/price/?desired_rank=gold",           SIGNED_IN),
    ("realtime test",            "GET",  "/realtime/test/",                            {"admin"}),
    ("health check",             "GET",  "/healthz",                                   EVERYONE),
    # JSON API: Authorization: Bearer works here, as does the session cookie.
    ("room messages API",        "GET",  "/api/rooms/{group}/messages/",               GROUP),
    ("room messages API after",  "GET",  "/api/rooms/{group}/messages/?after=0",       GROUP),
    ("order room messages API",  "GET",  "/api/rooms/{booster_room}/messages/",        ORDER),
    ("room messages API send",   "POST", "/api/rooms/{group}/messages/",               GROUP),
    ("room changes API",         "GET",  "/api/rooms/{group}/changes/?after=0",        GROUP),
    ("message edit API",         "PATCH", "/api/rooms/{group}/messages/{message}/",    {"room_admin"}),
    ("message delete API",       "DELETE", "/api/rooms/{group}/messages/{message}/",   {"room_admin"}),
    ("reaction API",             "POST", "/api/rooms/{group}/messages/{message}/reactions/", GROUP),
    ("public chat changes API",  "GET",  "/api/chat/changes/",                         SIGNED_IN),
    ("public chat API",          "GET",  "/api/chat/messages/",                        SIGNED_IN),
    ("search API everywhere",    "GET",  "/api/search/?q=welcome",                     SIGNED_IN),
    ("search API in the group",  "GET",  "/api/rooms/{group}/search/?q=welcome",       GROUP),
    ("public chat API send",     "POST", "/api/chat/messages/",                        SIGNED_IN),
    ("log out everywhere",       "POST", "/api/token/revoke/",                         SIGNED_IN),
]
# fmt: on


@dataclass(frozen=True)
class Success:
    """What an allowed request gets, and what a refused one may get instead."""

    ok: tuple[int, ...] = (200,)
    done: Done | None = None  # the effect an allowed request must have had
    data: Callable[[World, str], dict] | None = None  # the POST body, per role
    refused: tuple[int, ...] = (403, 404)  # a signed-in role outside `allowed`
    refused_is_login: bool = False  # staff_member_required sends everyone else to the admin login
    anonymous_refused: bool = False  # no such page: anonymous gets the 404 everyone gets


def member_of(room_attr: str) -> Done:
    return lambda w, user, r: getattr(w, room_attr).members.filter(pk=user.pk).exists()


def posted_in(room_attr: str | None, *, with_file: bool = False) -> Done:
    def check(w: World, user: User, response) -> bool:
        rows = Message.objects.filter(author=user, body__startswith="matrix")
        if room_attr:
            rows = rows.filter(room=getattr(w, room_attr))
        return rows.exclude(attachment="").exists() if with_file else rows.exists()

    return check


def order_is(attr: str, **expected) -> Done:
    def check(w: World, user: User, response) -> bool:
        order = Order.objects.get(pk=getattr(w, attr).pk)
        values = {key: (value(w, user) if callable(value) else value) for key, value in expected.items()}
        return all(getattr(order, key) == value for key, value in values.items())

    return check


def message_now(w: World) -> Message:
    return Message.objects.get(pk=w.group_message.pk)


def found_welcome(w: World, user: User, response) -> bool:
    # Everyone may search; only the group's members find its message.
    shown = f"around={w.group_message.pk}" in response.content.decode()
    return shown == w.group.members.filter(pk=user.pk).exists()


def found_welcome_api(w: World, user: User, response) -> bool:
    shown = w.group_message.pk in {result["id"] for result in response.json()["results"]}
    return shown == w.group.members.filter(pk=user.pk).exists()


def private_room_opened(w: World, user: User, response) -> bool:
    target = w.users[PRIVATE_TARGET]
    return response["Location"] == f"/chat/{room_services.private_room_name(user, target)}/"


def message_body(w: World, role: str) -> dict:
    return {"body": f"matrix from {role}"}


def png_upload(name: str) -> Callable[[World, str], dict]:
    return lambda w, role: {"body": "matrix file", "file": SimpleUploadedFile(name, png_bytes())}


NEW_ORDER = {"current_rank": "gold", "current_division": "3", "current_points": "0", "desired_rank": "platinum"}
REDIRECT = (302,)

# Rows not listed answer 200 to allowed roles and 403/404 to the others.
SUCCESS = {
    "fallback send": Success(REDIRECT, posted_in("group"), message_body),
    "upload": Success(REDIRECT, posted_in("group", with_file=True), png_upload("up.png")),
    "fallback reply": Success(
        REDIRECT,
        lambda w, user, r: Message.objects.filter(author=user, reply_to=w.group_message).exists(),
        lambda w, role: {"body": f"matrix reply from {role}", "reply_to": str(w.group_message.pk)},
    ),
    # Someone else's message: back to the room with the reason, nothing changed.
    "fallback edit": Success(
        REDIRECT,
        lambda w, user, r: message_now(w).body == "matrix edit",
        lambda w, role: {"type": "edit", "message": str(w.group_message.pk), "body": "matrix edit"},
        refused=(302, 404),
    ),
    "fallback delete": Success(
        REDIRECT,
        lambda w, user, r: message_now(w).is_deleted,
        lambda w, role: {"type": "delete", "message": str(w.group_message.pk)},
        refused=(302, 404),
    ),
    "fallback react": Success(
        REDIRECT,
        lambda w, user, r: Reaction.objects.filter(message=w.group_message, user=user, emoji="👍").exists(),
        lambda w, role: {"type": "react", "message": str(w.group_message.pk), "emoji": "👍", "on": "true"},
    ),
    "room page at a message": Success(
        done=lambda w, user, r: f'id="message-{w.group_message.pk}"' in r.content.decode()
    ),
    "earlier versions": Success(done=lambda w, user, r: "welcome" in r.content.decode()),
    "message edit API": Success(
        done=lambda w, user, r: message_now(w).body == "matrix edit", data=lambda w, role: {"body": "matrix edit"}
    ),
    "message delete API": Success(done=lambda w, user, r: message_now(w).is_deleted),
    "reaction API": Success(
        done=lambda w, user, r: Reaction.objects.filter(message=w.group_message, user=user).exists(),
        data=lambda w, role: {"emoji": "👍", "on": True},
    ),
    "search everywhere": Success(done=found_welcome),
    "search API everywhere": Success(done=found_welcome_api),
    "search API in the group": Success(done=found_welcome_api),
    # Users are named after their role (make_person).
    "picture upload": Success(
        REDIRECT,
        lambda w, user, r: Avatar.objects.get(user=user).version != w.avatars[user.username],
        lambda w, role: {"avatar": SimpleUploadedFile("face.png", png_bytes())},
    ),
    "picture remove": Success(REDIRECT, lambda w, user, r: not Avatar.objects.filter(user=user).exists()),
    "profile picture": Success(done=lambda w, user, r: r["Content-Type"] == "image/png"),
    "search in the group": Success(done=found_welcome),
    "room changes API": Success(
        done=lambda w, user, r: w.group_message.pk in {c["message_id"] for c in r.json()["changes"]}
    ),
    "edit": Success(
        REDIRECT,
        lambda w, user, r: Room.objects.get(pk=w.group.pk).title == "Renamed",
        lambda w, role: {"title": "Renamed"},
    ),
    # Site admins may delete any group, without being able to read it.
    "delete": Success(REDIRECT, lambda w, user, r: not Room.objects.filter(pk=w.group.pk).exists()),
    # The admin hands the group to its other member on the way out.
    "leave": Success(
        REDIRECT,
        lambda w, user, r: not w.group.members.filter(pk=user.pk).exists(),
        lambda w, role: {"successor": w.users["other_customer"].pk},
    ),
    "add member by username": Success(
        REDIRECT,
        lambda w, user, r: w.group.members.filter(pk=w.users["booster"].pk).exists(),
        lambda w, role: {"username": w.users["booster"].username},
    ),
    # The invite link: any signed-in user with a verified email (all of them here); members are sent
    # on. The member the admin removed is refused: the link predates the removal.
    "join page": Success((200, 302)),
    "join": Success(REDIRECT, member_of("group")),
    # A room's name grants nothing: there is no such page.
    "join by the room's name": Success(anonymous_refused=True),
    "join with a forged token": Success(refused=(404,)),
    "invite link replace": Success(
        REDIRECT,
        lambda w, user, r: room_selectors.invite_live(room=w.group).token != w.invite,
        lambda w, role: {"action": "regenerate"},
    ),
    "invite link revoke": Success(
        REDIRECT,
        lambda w, user, r: room_selectors.invite_live(room=w.group) is None,
        lambda w, role: {"action": "revoke"},
    ),
    "new group": Success(
        REDIRECT,
        lambda w, user, r: Room.objects.filter(admin=user, kind=Room.Kind.GROUP).exclude(pk=w.group.pk).exists(),
        lambda w, role: {"name": f"new-{role.replace('_', '-')}"},
    ),
    # With yourself: back to the public chat with an error.
    "private room": Success(REDIRECT, private_room_opened, refused=REDIRECT),
    "claim": Success(REDIRECT, order_is("open_order", booster_id=lambda w, user: user.pk)),
    "assign": Success(
        REDIRECT,
        order_is("order", booster_id=lambda w, user: w.users["other_booster"].pk),
        lambda w, role: {"booster": w.users["other_booster"].pk},
    ),
    "status": Success(REDIRECT, order_is("order", status=Order.Status.PAUSED), lambda w, role: {"status": "paused"}),
    "progress": Success(
        REDIRECT,
        order_is("order", reached_rank="silver", reached_division=1, reached_points=50),
        lambda w, role: {"reached_rank": "silver", "reached_division": "1", "reached_points": "50"},
    ),
    "complete": Success(REDIRECT, order_is("order", status=Order.Status.COMPLETED)),
    "cancel (in progress)": Success(REDIRECT, order_is("order", status=Order.Status.CANCELLED)),
    "cancel (unclaimed)": Success(REDIRECT, order_is("open_order", status=Order.Status.CANCELLED)),
    # Viewers without the right get the order page back with an error.
    "proof upload": Success(
        REDIRECT,
        lambda w, user, r: w.order.proofs.filter(uploaded_by=user).count() == 2,
        png_upload("proof.png"),
        refused=(302, 404),
    ),
    "new order": Success(
        REDIRECT,
        lambda w, user, r: Order.objects.filter(customer=user, current_rank="gold").exists(),
        lambda w, role: {**NEW_ORDER, "desired_division": "4"},
    ),
    # Staff are sent to the dashboard, which lists every order.
    "my orders": Success((200, 302)),
    "booster approvals": Success(
        REDIRECT,
        lambda w, user, r: BoosterApproval.objects.filter(booster=w.users["booster"], game="valorant").exists(),
        lambda w, role: {"valorant": "diamond"},
    ),
    "realtime test": Success(refused_is_login=True),
    "room messages API send": Success((201,), posted_in("group"), message_body),
    "public chat API send": Success((201,), posted_in(None), message_body),
    "log out everywhere": Success(done=lambda w, user, r: TokenRevocation.objects.filter(user=user).exists()),
    "mark read": Success(
        (204,),
        lambda w, user, r: ReadState.objects.filter(user=user, room=w.group, last_read_id=w.group_message.pk).exists(),
        lambda w, role: {"through": w.group_message.pk},
    ),
    "mute": Success(
        REDIRECT,
        lambda w, user, r: ReadState.objects.filter(user=user, room=w.group, muted=True).exists(),
        lambda w, role: {"muted": "1"},
    ),
    "account settings": Success(
        REDIRECT,
        lambda w, user, r: Preferences.objects.filter(user=user, theme="dark", email_window_minutes=30).exists(),
        lambda w, role: {"theme": "dark", "email_enabled": "on", "email_window_minutes": "30"},
    ),
}


@dataclass(frozen=True)
class Http:
    name: str
    method: str
    path: str
    allowed: frozenset[str]
    success: Success

    @property
    def api(self) -> bool:
        return self.path.startswith("/api/")


HTTP_ROWS = [
    Http(name, method, path, frozenset(allowed), SUCCESS.get(name, Success()))
    for name, method, path, allowed in HTTP_TABLE
]
assert set(SUCCESS) <= {row.name for row in HTTP_ROWS}
HTTP_CASES = [
    pytest.param(row, transport, id=f"{row.name}-{transport}") for row in HTTP_ROWS for transport in ("cookie", "token")
]


def http_expected(row: Http, role: str, transport: str) -> str:
    if transport == "token" and not row.api:
        # A bearer token is no browser session: HTML pages treat its holder as anonymous.
        role = "anonymous"
    if role in row.allowed:
        return "ok"
    if role == "anonymous" and row.success.anonymous_refused:
        return "refused"
    return "login" if role == "anonymous" or row.success.refused_is_login else "refused"


def http_outcome(world: World, row: Http, role: str, transport: str) -> str:
    user = world.users[role]
    if transport == "token":
        # On the API a bearer token needs no CSRF token; on pages CSRF would refuse
        # before the login check this matrix is about.
        client = Client(enforce_csrf_checks=row.api and user is not None)
        headers = {"Authorization": f"Bearer {world.tokens[role]}"} if user else {}
    else:
        client = Client()
        if user is not None:
            client.force_login(user)
        headers = {}
    path = world.fill(row.path)
    success = row.success
    data = success.data(world, role) if success.data else {}
    before = state()
    if row.method == "GET":
        response = client.get(path, headers=headers)
    elif row.api:
        send = {"POST": client.post, "PATCH": client.patch, "DELETE": client.delete}[row.method]
        response = send(path, json.dumps(data), content_type="application/json", headers=headers)
    else:
        response = client.post(path, data, headers=headers)
    location = response.get("Location", "")
    unchanged = state() == before
    if response.status_code == 401 or (
        response.status_code == 302 and location.startswith(("/accounts/login/", "/admin/login/"))
    ):
        return "login" if unchanged else "login, but changed data"
    if response.status_code in success.ok and (
        success.done is None or (user is not None and success.done(world, user, response))
    ):
        return "ok"
    if response.status_code in success.refused:
        return "refused" if unchanged else "refused, but changed data"
    return f"unexpected {response.status_code} {location}".strip()


@pytest.fixture(scope="class")
def http_world(django_db_setup, django_db_blocker, tmp_path_factory):
    """One data set for every HTTP row, inside a transaction rolled back at the end
    (what Django's setUpTestData does); each test's own savepoint sits inside it."""
    media = tmp_path_factory.mktemp("matrix-media")
    with (
        django_db_blocker.unblock(),
        override_settings(MEDIA_ROOT=media, **isolated_services()),
    ):
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            yield build_world(with_files=True)
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


@pytest.mark.django_db
class TestHttp:
    @pytest.mark.parametrize("row, transport", HTTP_CASES)
    def test_endpoint(self, http_world, row, transport, settings):
        settings.CHAT_RATE_LIMIT = (10_000, 10)
        got, expected = {}, {}
        for role in ROLES:
            with transaction.atomic():
                got[role] = http_outcome(http_world, row, role, transport)
                transaction.set_rollback(True)
            expected[role] = http_expected(row, role, transport)
        assert got == expected


# SOCKETS


@dataclass(frozen=True)
class Socket:
    name: str
    path: str
    allowed: frozenset[str]


# fmt: off
SOCKET_TABLE = [
    # socket                        path                                        allowed roles
    ("public chat",                 "/ws/chatroom/public-chat/",                SIGNED_IN),
    ("group chat",                  "/ws/chatroom/{group}/",                    GROUP),
    ("order staff chat",            "/ws/chatroom/{staff_room}/",               {"customer"} | STAFF),
    ("order booster chat",          "/ws/chatroom/{booster_room}/",             ORDER),
    ("order",                       "/ws/orders/{order}/",                      ORDER),
    ("order as JSON",               "/ws/orders/{order}/?format=json",          ORDER),
    ("unclaimed order",             "/ws/orders/{open_order}/",                 OPEN_ORDER),
    ("all my orders",               "/ws/orders/",                              SIGNED_IN),
    ("all my orders as JSON",       "/ws/orders/?format=json",                  SIGNED_IN),
    ("presence",                    "/ws/online-status/",                       SIGNED_IN),
    ("presence in the group",       "/ws/online-status/?room={group}",          GROUP),
    ("presence in the order room",  "/ws/online-status/?room={booster_room}",   ORDER),
    ("realtime ping",               "/ws/realtime/ping/",                       {"admin"}),
]
# fmt: on
SOCKET_ROWS = [Socket(name, path, frozenset(allowed)) for name, path, allowed in SOCKET_TABLE]


def socket_expected(row: Socket, role: str, transport: str) -> str:
    if role in row.allowed:
        return "open"
    if role == "anonymous":
        # A browser page without a session is accepted and told 4001; a script
        # with neither token nor Origin is refused at the handshake.
        return "closed 4001" if transport == "cookie" else "handshake refused"
    return "closed 4004"


async def socket_outcome(world: World, row: Socket, role: str, transport: str) -> tuple[str, WebsocketCommunicator]:
    from config.asgi import application

    path = world.fill(row.path)
    user = world.users[role]
    if transport == "token":
        if user is not None:
            path += ("&" if "?" in path else "?") + f"token={world.tokens[role]}"
        headers = []
    else:
        headers = await database_sync_to_async(session_headers)(user)
    socket = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await socket.connect(timeout=15)
    if not connected:
        return "handshake refused", socket
    # Allowed means still open a while after the accept: a late close is a refusal.
    # (receive_nothing, not receive_output: a receive that times out cancels the app.)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SOCKET_SETTLE_SECONDS
    while (left := deadline - loop.time()) > 0:
        if await socket.receive_nothing(timeout=left, interval=0.02):
            break
        output = await socket.receive_output()
        if output["type"] == "websocket.close":
            return f"closed {output.get('code')}", socket
    return "open", socket


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("transport", ["cookie", "token"])
async def test_sockets(transport, settings, tmp_path):
    world = await database_sync_to_async(build_world)(with_files=False)
    cases = [(row, role) for row in SOCKET_ROWS for role in ROLES]
    results = await asyncio.gather(*(socket_outcome(world, row, role, transport) for row, role in cases))
    try:
        got = {(row.name, role): outcome for (row, role), (outcome, _) in zip(cases, results, strict=True)}
        expected = {(row.name, role): socket_expected(row, role, transport) for row, role in cases}
        wrong = [
            f"{name} / {role}: expected {expected[name, role]}, got {got[name, role]}"
            for name, role in expected
            if got[name, role] != expected[name, role]
        ]
        assert not wrong, "\n".join(wrong)
    finally:
        await asyncio.gather(*(socket.disconnect() for outcome, socket in results if outcome == "open"))


@pytest.mark.django_db(transaction=True)
async def test_forged_token_gets_4003_on_every_socket(settings):
    from config.asgi import application

    world = await database_sync_to_async(build_world)(with_files=False)
    forged = world.tokens["admin"][:-4] + "AAAA"
    sockets = [
        WebsocketCommunicator(application, world.fill(row.path) + ("&" if "?" in row.path else "?") + f"token={forged}")
        for row in SOCKET_ROWS
    ]
    for socket in sockets:
        connected, _ = await socket.connect(timeout=15)
        assert connected
        assert await socket.receive_output(timeout=3) == {"type": "websocket.close", "code": 4003}


# ACCESS CHANGES ON OPEN SOCKETS


def lose_group(name: str) -> Callable[[User], None]:
    def change(user: User) -> None:
        user.groups.remove(Group.objects.get(name=name))

    return change


def clear_is_staff(user: User) -> None:
    user.is_staff = False
    user.save()


def set_password(user: User) -> None:
    # From the shell or the admin: no session of the user's own keeps its sockets.
    user.set_password("a-Changed-password-7781")
    user.save()


ACCESS_CHANGES = {
    "managers group removed": ("manager", lose_group("managers")),
    "boosters group removed": ("other_booster", lose_group("boosters")),
    "is_staff cleared": ("admin", clear_is_staff),
    "password changed": ("customer", set_password),
}
# What each of that user's open sockets does within ACCESS_CHANGE_SECONDS of the
# change: close with a code, narrow (told to re-read its page, then sees only what
# the role now may; tests/realtime/test_access_changes.py checks what it receives
# next), or stay open untouched. "password" is 4001 over the cookie, 4003 over a token.
# fmt: off
ACCESS_CHANGE_TABLE = [
    # change                    socket                                  outcome
    ("managers group removed",  "/ws/orders/{order}/",                  "closed 4004"),
    ("managers group removed",  "/ws/orders/{order}/?format=json",      "closed 4004"),
    ("managers group removed",  "/ws/chatroom/{staff_room}/",           "closed 4004"),
    ("managers group removed",  "/ws/chatroom/{booster_room}/",         "closed 4004"),
    ("managers group removed",  "/ws/orders/",                          "narrowed"),
    ("managers group removed",  "/ws/chatroom/public-chat/",            "open"),
    ("boosters group removed",  "/ws/orders/{open_order}/",             "closed 4004"),
    ("boosters group removed",  "/ws/orders/",                          "narrowed"),
    ("boosters group removed",  "/ws/chatroom/public-chat/",            "open"),
    ("is_staff cleared",        "/ws/realtime/ping/",                   "closed 4004"),
    ("is_staff cleared",        "/ws/orders/{order}/",                  "closed 4004"),
    ("is_staff cleared",        "/ws/chatroom/{staff_room}/",           "closed 4004"),
    ("is_staff cleared",        "/ws/orders/",                          "narrowed"),
    ("is_staff cleared",        "/ws/online-status/",                   "open"),
    ("password changed",        "/ws/chatroom/public-chat/",            "password"),
    ("password changed",        "/ws/chatroom/{staff_room}/",           "password"),
    ("password changed",        "/ws/orders/{order}/",                  "password"),
    ("password changed",        "/ws/orders/",                          "password"),
    ("password changed",        "/ws/online-status/",                   "password"),
]
# fmt: on
ACCESS_CHANGE_SECONDS = 2
assert {change for change, _path, _outcome in ACCESS_CHANGE_TABLE} == set(ACCESS_CHANGES)


async def after_access_change(socket: WebsocketCommunicator) -> str:
    """What the socket did within ACCESS_CHANGE_SECONDS of the change."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ACCESS_CHANGE_SECONDS
    narrowed = False
    while (left := deadline - loop.time()) > 0:
        if await socket.receive_nothing(timeout=left, interval=0.02):
            break
        output = await socket.receive_output()
        if output["type"] == "websocket.close":
            return f"closed {output.get('code')}"
        narrowed = narrowed or output.get("text") == resync_frame()
    return "narrowed" if narrowed else "open"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("transport", ["cookie", "token"])
@pytest.mark.parametrize("change", list(ACCESS_CHANGES))
async def test_access_changes_reach_open_sockets(change, transport, settings):
    world = await database_sync_to_async(build_world)(with_files=False)
    role, apply = ACCESS_CHANGES[change]
    rows = [(path, outcome) for name, path, outcome in ACCESS_CHANGE_TABLE if name == change]
    before = [socket_outcome(world, Socket(path, path, frozenset()), role, transport) for path, _ in rows]
    results = await asyncio.gather(*before)
    opened = [socket for _, socket in results]
    try:
        assert [outcome for outcome, _ in results] == ["open"] * len(rows), "every socket was open before the change"
        user = await database_sync_to_async(User.objects.get)(pk=world.users[role].pk)
        await database_sync_to_async(apply)(user)
        got = await asyncio.gather(*(after_access_change(socket) for socket in opened))
        password = "closed 4001" if transport == "cookie" else "closed 4003"
        expected = [password if outcome == "password" else outcome for _, outcome in rows]
        wrong = [
            f"{path}: expected {want}, got {have}"
            for (path, _), want, have in zip(rows, expected, got, strict=True)
            if want != have
        ]
        assert not wrong, "\n".join(wrong)
    finally:
        await asyncio.gather(*(socket.disconnect() for socket in opened))


# CHAT FRAMES: what each reader of a room may do to its messages over the socket.

# fmt: off
TARGET = "target"  # the id of a message made by the row's author just before the frame
FRAME_TABLE = [
    # frame, socket room, target's author, frame, allowed roles
    ("post", "group", "room_admin", {"body": "matrix frame"}, GROUP),
    ("reply", "group", "room_admin", {"body": "matrix reply", "reply_to": TARGET}, GROUP),
    ("edit", "group", "room_admin", {"type": "edit", "message": TARGET, "body": "matrix edit"}, {"room_admin"}),
    ("delete", "group", "room_admin", {"type": "delete", "message": TARGET}, {"room_admin"}),
    ("react", "group", "room_admin", {"type": "react", "message": TARGET, "emoji": "👍", "on": True}, GROUP),
    ("resume", "group", "room_admin", {"type": "resume", "seq": 0}, GROUP),
    # Staff may delete any message of a room they can read; nobody edits another's.
    ("staff delete", "booster_room", "booster", {"type": "delete", "message": TARGET}, {"booster"} | STAFF),
    ("staff edit", "booster_room", "booster", {"type": "edit", "message": TARGET, "body": "matrix edit"}, {"booster"}),
]
# fmt: on
FRAME_READERS = {"group": GROUP, "booster_room": ORDER}


def frame_effect(kind: str, target: Message, user: User) -> bool:
    current = Message.objects.get(pk=target.pk)
    return {
        "post": lambda: Message.objects.filter(author=user, body="matrix frame").exists(),
        "reply": lambda: Message.objects.filter(author=user, reply_to=target).exists(),
        "edit": lambda: current.body == "matrix edit",
        "staff edit": lambda: current.body == "matrix edit",
        "delete": lambda: current.is_deleted,
        "staff delete": lambda: current.is_deleted,
        "react": lambda: Reaction.objects.filter(message=target, user=user).exists(),
        "resume": lambda: True,
    }[kind]()


async def frame_outcome(world: World, kind: str, room: str, author: str, frame: dict, role: str) -> str:
    from config.asgi import application

    def make_target():
        return room_services.message_post(room=getattr(world, room), author=world.users[author], body=f"target {kind}")

    target = await database_sync_to_async(make_target)()
    frame = {key: target.pk if value == TARGET else value for key, value in frame.items()}
    user = world.users[role]
    headers = await database_sync_to_async(session_headers)(user)
    socket = WebsocketCommunicator(application, world.fill(f"/ws/chatroom/{{{room}}}/"), headers=headers)
    connected, _ = await socket.connect(timeout=15)
    assert connected
    try:
        before = await database_sync_to_async(state)()
        await socket.send_to(text_data=json.dumps(frame))
        while True:  # pushes of the change may come before the acknowledgement
            reply = await socket.receive_from(timeout=5)
            if 'id="chat-error"' in reply or (kind == "resume" and f'id="message-{target.pk}"' in reply):
                break
        if kind == "resume":
            return "ok"
        if "data-stored" in reply:
            done = await database_sync_to_async(frame_effect)(kind, target, user)
            return "ok" if done else "acknowledged, but no effect"
        unchanged = await database_sync_to_async(state)() == before
        return "refused" if unchanged else "refused, but changed data"
    finally:
        await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_chat_frames(settings):
    settings.CHAT_RATE_LIMIT = (10_000, 10)
    world = await database_sync_to_async(build_world)(with_files=False)
    got, expected = {}, {}
    for kind, room, author, frame, allowed in FRAME_TABLE:
        for role in sorted(FRAME_READERS[room]):
            got[kind, role] = await frame_outcome(world, kind, room, author, frame, role)
            expected[kind, role] = "ok" if role in allowed else "refused"
    assert got == expected
