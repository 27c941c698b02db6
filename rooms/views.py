"""Chat pages and the JSON message API. Permissions come from rooms.selectors on
every request; actions go through rooms.services."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts.selectors import avatar_of
from accounts.services import email_verification_resend
from realtime.roles import is_staff_user
from rooms import broadcasts, frames, search, selectors, services
from rooms.consumers import SEND_FAILED
from rooms.forms import GroupCreateForm, GroupEditForm
from rooms.models import PUBLIC_ROOM_NAME, Message, Room, RoomChange
from uploads.validation import max_upload_bytes

TEMPLATE = "rooms/room.html"
API_LIMIT_MAX = 100
ROOM_NOT_FOUND = "No such room."
INVITE_ACTION_UNKNOWN = "Choose New link or Revoke link."


def refusal_status(error: services.ChatError, *, invalid: int = 422) -> int:
    """429 for sending, editing or reacting too fast, `invalid` for any other refused
    input (on pages, base.html's responseHandling swaps both in where the user acted;
    the JSON API answers 400 for bad input)."""
    return 429 if str(error) in (services.MESSAGE_RATE_LIMITED, services.ACTION_RATE_LIMITED) else invalid


def room_gone(request: HttpRequest) -> HttpResponse:
    """A page's request to a room this user may no longer read (removed, deleted).

    A page learns why at once over its socket; this answers a send that went over
    HTTP meanwhile: the notice, in place (403, swapped). Anything else gets the
    404 of a room that never existed, and so does a page for a room that never did.
    """
    if not request.htmx:
        raise Http404(ROOM_NOT_FOUND)
    return HttpResponse(broadcasts.room_gone_fragment(broadcasts.GONE_DEFAULT), status=403)


def _room_or_404(name: str, user, *, select: Callable[..., Room] = selectors.room_for_user) -> Room:
    """The room, if `select` lets this user have it; otherwise a 404 exactly like a
    room that does not exist, since whether a name is taken is nobody else's business."""
    try:
        return select(name=name, user=user)
    except selectors.RoomAccessDenied:
        raise Http404(ROOM_NOT_FOUND) from None


def _for_room_admin(view: Callable[[HttpRequest, Room], HttpResponse]) -> Callable[..., HttpResponse]:
    """Runs `view` with the room for its admin only; anyone who may not see the
    room gets the 404 of a missing one, a member who is not its admin a 403."""

    @functools.wraps(view)
    def checked(request: HttpRequest, name: str) -> HttpResponse:
        room = _room_or_404(name, request.user)
        if not selectors.is_room_admin(room=room, user=request.user):
            return HttpResponseForbidden(services.NOT_ROOM_ADMIN)
        return view(request, room)

    return checked


def _page_context(request: HttpRequest, room: Room, around: int | None = None) -> dict:
    # The room row (and its position) was read before the messages, so anything
    # newer than `seq` that the page already shows is only replayed, never missed.
    shown = selectors.messages_from(room=room, first=around) if around else None
    if shown is None:
        shown = selectors.messages_latest(room=room)
        has_older = bool(shown) and len(shown) == settings.CHAT_PAGE_SIZE
    else:
        has_older = bool(shown) and selectors.messages_before(room=room, before=shown[0].pk, limit=1) != []
    user = request.user
    state = selectors.read_states(user=user, room_ids=[room.pk]).get(room.pk)
    first_unread = selectors.first_unread_id(room=room, user=user, pointer=state.last_read_id if state else 0)
    is_room_admin = selectors.is_room_admin(room=room, user=request.user)
    invite = selectors.invite_live(room=room) if is_room_admin else None
    return {
        "room": room,
        "seq": room.last_seq,
        "chat_messages": shown,
        "oldest_id": shown[0].pk if shown else None,
        "has_older": has_older,
        "reactions": settings.CHAT_REACTIONS,
        "edit_window": 0 if is_staff_user(request.user) else settings.CHAT_EDIT_WINDOW_SECONDS,
        "is_staff": is_staff_user(request.user),
        # The divider goes before it; when it is older than this page, "jump" pages back to it.
        "first_unread_id": first_unread,
        "receipts": broadcasts.render_receipts(room, oob=False) if selectors.shows_receipts(room=room) else "",
        "receipt_side": selectors.receipt_side(room=room, user=user),
        "muted": bool(state and state.muted),
        "members": selectors.room_members(room=room),
        "is_room_admin": is_room_admin,
        # Only the admin hands out the invite link (and can replace it).
        "invite_url": request.build_absolute_uri(invite.get_absolute_url()) if invite else "",
        "rooms": selectors.rooms_for_user(user=user),
        "max_length": settings.CHAT_MESSAGE_MAX_LENGTH,
        # Shown if the socket is refused on a reconnect; a live removal pushes its own reason.
        "gone_reason": broadcasts.GONE_DEFAULT,
        # The upload form refuses an oversize file before sending it (static/js/uploads.js).
        "upload_max_bytes": max_upload_bytes(),
    }


@login_required
@require_GET
def room_page(request: HttpRequest, name: str) -> HttpResponse:
    """The room; `?around=<id>` opens it at that message (search results, replies)."""
    room = _room_or_404(name, request.user)
    return render(request, TEMPLATE, _page_context(request, room, around=_int_or_none(request.GET.get("around"))))


@login_required
@require_GET
def older_messages(request: HttpRequest, name: str) -> HttpResponse:
    room = _room_or_404(name, request.user)
    try:
        before = int(request.GET["before"])
    except (KeyError, ValueError):
        return HttpResponse("before must be a message id.", status=400)
    older = selectors.messages_before(room=room, before=before)
    # An older page may hold the first unread message: the divider goes there.
    # Where it was when the page opened (`unread`, 0 for none), not where the
    # pointer is now: the page has been marking what it shows as read since.
    first_unread = _int_or_none(request.GET.get("unread"))
    if first_unread is None:
        pointer = selectors.read_pointer(room=room, user=request.user)
        first_unread = selectors.first_unread_id(room=room, user=request.user, pointer=pointer)
    context = {
        "room": room,
        "chat_messages": older,
        "oldest_id": older[0].pk if older else None,
        "has_older": len(older) == settings.CHAT_PAGE_SIZE,
        "first_unread_id": first_unread,
    }
    return render(request, f"{TEMPLATE}#older", context)


@login_required
@require_POST
def post_message(request: HttpRequest, name: str) -> HttpResponse:
    """The socket's frames over HTTP, for while it is down: a post, or with
    `type` an edit, delete or reaction (rooms/frames.py). With `seq`, the
    response also carries every change after that position, so the page stays
    complete without its socket."""
    try:
        room = selectors.room_for_user(name=name, user=request.user)
    except selectors.RoomAccessDenied:
        return room_gone(request)
    try:
        outcome = frames.perform(room=room, user=request.user, frame=request.POST.dict())
    except (services.ChatError, services.RoomPermissionDenied) as error:
        status = 403 if isinstance(error, services.RoomPermissionDenied) else refusal_status(error)
        if request.htmx:
            return HttpResponse(broadcasts.error_fragment(str(error)), status=status)
        flash.error(request, str(error))
        return redirect(room)
    except selectors.RoomAccessDenied:
        return room_gone(request)
    except DatabaseError:
        # Nothing was stored: say so plainly rather than a bare 500.
        return HttpResponse(broadcasts.error_fragment(SEND_FAILED), status=503)
    if not request.htmx:
        return redirect(room)
    ack = broadcasts.clear_error_fragment(outcome.client_id)
    seq = _int_or_none(request.POST.get("seq"))
    missed = broadcasts.replay(room=room, after=seq).html if seq is not None else ""
    if seq is None and outcome.message is not None:
        missed = broadcasts.render_messages([outcome.message])
    created = outcome.message is not None and not outcome.message.is_retry
    return HttpResponse(ack + missed, status=201 if created else 200)


@login_required
@require_GET
def message_versions(request: HttpRequest, name: str, pk: int) -> HttpResponse:
    """Earlier bodies of an edited message, for its author and staff."""
    room = _room_or_404(name, request.user)
    message = selectors.message_in_room(room=room, message_id=pk)
    if message is None:
        raise Http404("No such message.")
    if not selectors.can_change(message=message, user=request.user):
        return HttpResponseForbidden(services.NOT_YOUR_MESSAGE)
    versions = selectors.versions_for(message=message, user=request.user)
    return render(request, f"{TEMPLATE}#versions", {"versions": versions})


@login_required
@require_GET
def room_lists(request: HttpRequest) -> HttpResponse:
    """The sidebar, dropdown and /chat/ lists, out of band, for a page that met a new room.
    `?current=<room id>` keeps the page's own room marked in the sidebar."""
    current = _int_or_none(request.GET.get("current"))
    context = {"rooms": selectors.chat_index(user=request.user), "room": Room(pk=current) if current else None}
    return render(request, "rooms/room_lists.html", context)


@login_required
@require_POST
def mark_read(request: HttpRequest, name: str) -> HttpResponse:
    """The page's batched "seen up to here" while its socket is down."""
    room = _room_or_404(name, request.user)
    through = _int_or_none(request.POST.get("through"))
    if through is None:
        return HttpResponse(services.READ_THROUGH_INVALID, status=400)
    services.room_mark_read(room=room, user=request.user, through=through)
    return HttpResponse(status=204)


@login_required
@require_POST
def mute_room(request: HttpRequest, name: str) -> HttpResponse:
    room = _room_or_404(name, request.user)
    muted = request.POST.get("muted") == "1"
    services.room_mute(room=room, user=request.user, muted=muted)
    if request.htmx:
        return render(request, "rooms/readstate.html#mute", {"room": room, "muted": muted})
    flash.success(request, f"{room.display_title} is muted." if muted else f"{room.display_title} is unmuted.")
    return redirect(room)


@login_required
@require_GET
def private_room(request: HttpRequest, username: str) -> HttpResponse:
    other = get_object_or_404(get_user_model(), username=username, is_active=True)
    try:
        room = services.room_get_or_create_private(user=request.user, other=other)
    except services.ChatError as error:
        flash.error(request, str(error))
        return redirect("rooms:room", name=PUBLIC_ROOM_NAME)
    return redirect(room)


@login_required
@require_http_methods(["GET", "POST"])
def new_group(request: HttpRequest) -> HttpResponse:
    form = GroupCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            room = services.room_create_group(
                creator=request.user, name=form.cleaned_data["name"], title=form.cleaned_data["title"]
            )
        except services.ChatError as error:
            form.add_error("name", str(error))
        else:
            return redirect(room)
    status = 422 if form.errors else 200
    return render(request, "rooms/new_group.html", {"form": form}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def join_group(request: HttpRequest, token: str) -> HttpResponse:
    """The invite link: `/chat/join/<token>/`. A room's name alone grants nothing."""
    try:
        invite = selectors.invite_for_token(token=token)
    except selectors.InviteInvalid:
        return render(request, "rooms/join.html", {"error": services.INVITE_INVALID}, status=404)
    room = invite.room
    if selectors.can_read(room=room, user=request.user):
        return redirect(room)
    verified = selectors.has_verified_email(user=request.user)
    if request.method == "POST" and "resend" in request.POST and not verified:
        # The link carries `next` (this page): verifying lands back on the invite.
        email_verification_resend(request=request, user=request.user)
        return redirect(request.get_full_path())
    context = {"room": room, "verified": verified, "email": request.user.email}
    if selectors.removed_since(room=room, user=request.user, invite=invite):
        return render(request, "rooms/join.html", {**context, "error": services.INVITE_PREDATES_REMOVAL}, status=403)
    if request.method == "POST" and verified:
        try:
            services.room_join_by_invite(token=token, user=request.user)
        except (services.ChatError, services.RoomPermissionDenied) as error:
            return render(request, "rooms/join.html", {**context, "error": str(error)}, status=403)
        return redirect(room)
    return render(request, "rooms/join.html", context, status=200 if verified else 403)


def _edit_page(
    request: HttpRequest,
    room: Room,
    form: GroupEditForm,
    *,
    invite_error: str = "",
    add_error: str = "",
    status: int = 200,
) -> HttpResponse:
    invite = selectors.invite_live(room=room)
    context = {
        "room": room,
        "form": form,
        "invite": invite,
        "invite_url": request.build_absolute_uri(invite.get_absolute_url()) if invite else "",
        "invite_error": invite_error,
        "add_error": add_error,
    }
    return render(request, "rooms/edit_group.html", context, status=status)


def _edit_form(request: HttpRequest, room: Room, data=None) -> GroupEditForm:
    members = [m for m in selectors.room_members(room=room) if m.pk != request.user.pk]
    initial = {"title": room.title, "retention_days": room.retention.days if room.retention else None}
    return GroupEditForm(data, initial=initial, members=members)


@login_required
@require_http_methods(["GET", "POST"])
@_for_room_admin
def edit_group(request: HttpRequest, room: Room) -> HttpResponse:
    form = _edit_form(request, room, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.room_update(
                room=room,
                by=request.user,
                title=form.cleaned_data["title"],
                retention_days=form.cleaned_data["retention_days"],
                remove_user_ids=form.cleaned_data["remove"],
            )
        except services.ChatError as error:
            form.add_error(None, str(error))
        else:
            flash.success(request, "Room updated.")
            return redirect(room)
    return _edit_page(request, room, form, status=422 if form.errors else 200)


@login_required
@require_POST
@_for_room_admin
def invite_group(request: HttpRequest, room: Room) -> HttpResponse:
    """The admin replaces the invite link (optionally expiring) or revokes it."""
    action = request.POST.get("action")
    try:
        if action == "revoke":
            services.invite_revoke(room=room, by=request.user)
            flash.success(request, "Invite link revoked: nobody can join until you make a new one.")
        elif action == "regenerate":
            days = (request.POST.get("expires_days") or "").strip()
            if days and not days.isdigit():
                raise services.ChatError(services.INVITE_EXPIRY_INVALID)
            services.invite_regenerate(room=room, by=request.user, expires_in_days=int(days) if days else None)
            flash.success(request, "New invite link made; the old one no longer works.")
        else:
            raise services.ChatError(INVITE_ACTION_UNKNOWN)
    except services.ChatError as error:
        return _edit_page(request, room, _edit_form(request, room), invite_error=str(error), status=422)
    return redirect(reverse("rooms:edit", args=[room.name]) + "#invite")


@login_required
@require_POST
@_for_room_admin
def add_member(request: HttpRequest, room: Room) -> HttpResponse:
    """The admin adds a member by username (a form of the edit page)."""
    try:
        invitee = services.room_add_member(room=room, by=request.user, username=request.POST.get("username", ""))
    except services.ChatError as error:
        return _edit_page(request, room, _edit_form(request, room), add_error=str(error), status=422)
    flash.success(request, f"{invitee.username} is in {room.display_title} now.")
    return redirect("rooms:edit", name=room.name)


@login_required
@require_http_methods(["GET", "POST"])
def delete_group(request: HttpRequest, name: str) -> HttpResponse:
    """GET asks first (what goes with the room); POST deletes."""
    room = _room_or_404(name, request.user, select=selectors.room_for_deletion)
    if request.method == "GET":
        if not selectors.can_delete(room=room, user=request.user):
            return HttpResponseForbidden(services.NOT_ROOM_ADMIN)
        context = {"room": room, "message_count": room.messages.count(), "member_count": room.members.count()}
        return render(request, "rooms/delete_group.html", context)
    try:
        services.room_delete(room=room, by=request.user)
    except services.RoomPermissionDenied as error:
        return HttpResponseForbidden(str(error))
    except services.ChatError as error:
        return HttpResponse(str(error), status=422)
    flash.success(request, f"Deleted {room.display_title}.")
    return _to_index(request)


@login_required
@require_http_methods(["GET", "POST"])
def leave_group(request: HttpRequest, name: str) -> HttpResponse:
    """GET asks first: the admin picks who runs the group next, the last member
    is pointed to deleting it instead. POST leaves."""
    room = _room_or_404(name, request.user)
    if room.kind != Room.Kind.GROUP:
        return HttpResponse(services.ONLY_GROUPS, status=422)
    others = [m for m in selectors.room_members(room=room) if m.pk != request.user.pk]
    error = ""
    if request.method == "POST":
        chosen = _int_or_none(request.POST.get("successor"))
        successor = next((m for m in others if m.pk == chosen), None)
        try:
            services.room_leave(room=room, user=request.user, successor=successor)
        except services.ChatError as refused:
            error = str(refused)
        else:
            flash.success(request, f"You left {room.display_title}.")
            return _to_index(request)
    context = {
        "room": room,
        "others": others,
        "is_room_admin": selectors.is_room_admin(room=room, user=request.user),
        "can_delete": selectors.can_delete(room=room, user=request.user),
        "error": error,
    }
    return render(request, "rooms/leave_group.html", context, status=422 if error else 200)


@login_required
@require_GET
def chat_index(request: HttpRequest) -> HttpResponse:
    """/chat/: the user's chats, newest activity first, and for staff the order rooms they may enter."""
    context = {
        "rooms": selectors.chat_index(user=request.user),
        "support_rooms": selectors.support_inbox(user=request.user),
        "support_inbox_size": selectors.SUPPORT_INBOX_SIZE,
    }
    return render(request, "rooms/index.html", context)


@login_required
@require_GET
def search_messages(request: HttpRequest) -> HttpResponse:
    """`?q=` over every room the user may read; `&room=<name>` over one."""
    query = request.GET.get("q", "")[:200]
    room = _room_or_404(request.GET["room"], request.user) if request.GET.get("room") else None
    scope = request.GET.get("in") or (room.name if room else "")
    context = {
        "query": query,
        "room": room,
        "scope_room": _room_or_404(scope, request.user) if scope else None,
        "hits": search.messages_search(user=request.user, query=query, room=room),
        "limit": search.RESULT_LIMIT,
    }
    return render(request, "rooms/search.html", context)


@login_required
@require_GET
def people(request: HttpRequest) -> HttpResponse:
    found = selectors.users_search(query=request.GET.get("q", ""), exclude=request.user)
    return render(request, f"{TEMPLATE}#people", {"people": found})


def _to_index(request: HttpRequest) -> HttpResponse:
    url = reverse("rooms:index")
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _int_or_none(value) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


# JSON API


def _message_json(message: Message, room: Room) -> dict:
    reactions: dict[str, list[dict]] = {}
    for reaction in message.reactions.all():
        reactions.setdefault(reaction.emoji, []).append({"id": reaction.user_id, "username": reaction.user.username})
    return {
        "id": message.pk,
        "room": room.name,
        "body": message.body,
        "body_html": message.body_html,
        "author": _author_json(message.author),
        "created": message.created.isoformat(),
        "edited": message.edited_at.isoformat() if message.edited_at else None,
        "deleted": message.deleted_at.isoformat() if message.deleted_at else None,
        "reply_to": message.reply_to_id,
        "reactions": [{"emoji": emoji, "users": users} for emoji, users in reactions.items()],
        "client_id": message.client_id,
        "attachment": _attachment_json(message),
    }


def _author_json(author) -> dict:
    picture = avatar_of(author)
    return {"id": author.pk, "username": author.username, "avatar_url": picture.get_absolute_url() if picture else None}


def _attachment_json(message: Message) -> dict | None:
    if not message.attachment:
        return None
    return {
        "name": message.attachment_name,
        "content_type": message.attachment_type,
        "size": message.attachment_size,
        "url": message.attachment_url(),
        "thumbnail_url": message.attachment_url(thumbnail=True) if message.attachment_thumbnail else None,
    }


def _api_error(text: str, status: int) -> JsonResponse:
    return JsonResponse({"error": text}, status=status)


def _api_room(request: HttpRequest, name: str) -> Room | JsonResponse:
    """The room, for a signed-in user who may read it; otherwise the error to answer."""
    if not request.user.is_authenticated:
        return _api_error("Authentication required.", 401)
    try:
        return selectors.room_for_user(name=name, user=request.user)
    except selectors.RoomAccessDenied:
        return _api_error(ROOM_NOT_FOUND, 404)


@require_http_methods(["GET", "POST"])
def api_messages(request: HttpRequest, name: str = PUBLIC_ROOM_NAME) -> JsonResponse:
    room = _api_room(request, name)
    if isinstance(room, JsonResponse):
        return room
    if request.method == "POST":
        return _api_post(request, room)
    after, before = request.GET.get("after"), request.GET.get("before")
    limit_raw = request.GET.get("limit", str(settings.CHAT_PAGE_SIZE))
    parsed = {key: _int_or_none(value) for key, value in (("after", after), ("before", before), ("limit", limit_raw))}
    if any(parsed[key] is None for key, raw in (("after", after), ("before", before)) if raw is not None) or (
        parsed["limit"] is None or not 1 <= parsed["limit"] <= API_LIMIT_MAX
    ):
        return _api_error(f"after/before must be message ids and limit 1..{API_LIMIT_MAX}.", 400)
    if parsed["after"] is not None:
        rows = selectors.messages_after(room=room, after=parsed["after"], limit=parsed["limit"])
    elif parsed["before"] is not None:
        rows = selectors.messages_before(room=room, before=parsed["before"], limit=parsed["limit"])
    else:
        rows = selectors.messages_latest(room=room, limit=parsed["limit"])
    return JsonResponse({"room": room.name, "messages": [_message_json(m, room) for m in rows]})


def _json_object(request: HttpRequest) -> dict | JsonResponse:
    try:
        payload = json.loads(request.body or b"{}")
    except (ValueError, RecursionError):
        return _api_error("The body must be JSON.", 400)
    if not isinstance(payload, dict):
        return _api_error("The body must be a JSON object.", 400)
    return payload


def _api_post(request: HttpRequest, room: Room) -> JsonResponse:
    payload = _json_object(request)
    if isinstance(payload, JsonResponse):
        return payload
    body, client_id = payload.get("body"), payload.get("client_id")
    if not isinstance(body, str) or (client_id is not None and not isinstance(client_id, str)):
        return _api_error("body must be a string and client_id a string or null.", 400)
    frame = {"body": body, "client_id": client_id, "reply_to": payload.get("reply_to")}
    try:
        message = frames.perform(room=room, user=request.user, frame=frame).message
    except services.ChatError as error:
        return _api_error(str(error), refusal_status(error, invalid=400))
    return JsonResponse(_message_json(message, room), status=200 if message.is_retry else 201)


@require_http_methods(["PATCH", "DELETE"])
def api_message(request: HttpRequest, pk: int, name: str = PUBLIC_ROOM_NAME) -> JsonResponse:
    """PATCH `{"body"}` edits a message, DELETE deletes it; both answer with it as it is now."""
    return _api_action(request, name, pk, "edit" if request.method == "PATCH" else "delete")


@require_POST
def api_reactions(request: HttpRequest, pk: int, name: str = PUBLIC_ROOM_NAME) -> JsonResponse:
    """`{"emoji", "on"}` adds or removes the caller's reaction."""
    return _api_action(request, name, pk, "react")


def _api_action(request: HttpRequest, name: str, pk: int, kind: str) -> JsonResponse:
    room = _api_room(request, name)
    if isinstance(room, JsonResponse):
        return room
    if selectors.message_in_room(room=room, message_id=pk) is None:
        return _api_error(frames.MESSAGE_ID_INVALID, 404)
    payload = _json_object(request) if kind != "delete" else {}
    if isinstance(payload, JsonResponse):
        return payload
    try:
        frames.perform(room=room, user=request.user, frame={**payload, "type": kind, "message": pk})
    except services.RoomPermissionDenied as error:
        return _api_error(str(error), 403)
    except services.ChatError as error:
        return _api_error(str(error), refusal_status(error, invalid=400))
    except selectors.RoomAccessDenied:
        return _api_error(ROOM_NOT_FOUND, 404)
    return JsonResponse(_message_json(selectors.message_in_room(room=room, message_id=pk), room))


@require_GET
def api_changes(request: HttpRequest, name: str = PUBLIC_ROOM_NAME) -> JsonResponse:
    """`?after=<seq>`: the room's changes after that position, oldest first, each
    with the message as it is now; `seq` is where to ask from next."""
    if not request.user.is_authenticated:
        return _api_error("Authentication required.", 401)
    try:
        room = selectors.room_for_user(name=name, user=request.user)
    except selectors.RoomAccessDenied:
        return _api_error("No such room.", 404)
    after = _int_or_none(request.GET.get("after", "0"))
    limit = _int_or_none(request.GET.get("limit", str(API_LIMIT_MAX)))
    if after is None or limit is None or not 1 <= limit <= API_LIMIT_MAX:
        return _api_error(f"after must be a position (0 or more) and limit 1..{API_LIMIT_MAX}.", 400)
    changes = selectors.changes_after(room=room, after=after, limit=limit)
    messages = selectors.messages_by_id(ids=list({change.message_id for change in changes}))
    latest = selectors.room_seq(room=room)
    return JsonResponse(
        {
            "room": room.name,
            "seq": changes[-1].seq if changes else min(after, latest),
            "more": bool(changes) and changes[-1].seq < latest,
            "changes": [_change_json(change, messages.get(change.message_id), room) for change in changes],
        }
    )


def _change_json(change: RoomChange, message: Message | None, room: Room) -> dict:
    return {
        "seq": change.seq,
        "kind": change.kind,
        "message_id": change.message_id,
        "actor_id": change.actor_id,
        "emoji": change.emoji or None,
        "created": change.created.isoformat(),
        "message": _message_json(message, room) if message is not None else None,
    }


SEARCH_QUERY_MISSING = "q must contain at least one word."


@require_GET
def api_search(request: HttpRequest, name: str | None = None) -> JsonResponse:
    """`?q=` over every room the caller may read, or over room `name`; newest first,
    `?before=<id>` for the next page (the `next_before` of this one)."""
    if not request.user.is_authenticated:
        return _api_error("Authentication required.", 401)
    room = None
    if name is not None:
        room = _api_room(request, name)
        if isinstance(room, JsonResponse):
            return room
    query = request.GET.get("q", "")[:200]
    if not search.search_terms(query):
        return _api_error(SEARCH_QUERY_MISSING, 400)
    before_raw = request.GET.get("before")
    before = _int_or_none(before_raw) if before_raw is not None else None
    limit = _int_or_none(request.GET.get("limit", str(settings.CHAT_PAGE_SIZE)))
    if (before_raw is not None and before is None) or limit is None or not 1 <= limit <= API_LIMIT_MAX:
        return _api_error(f"before must be a message id and limit 1..{API_LIMIT_MAX}.", 400)
    # One more than asked says whether another page follows, without a count.
    hits = search.messages_search(user=request.user, query=query, room=room, before=before, limit=limit + 1)
    more = len(hits) > limit
    hits = hits[:limit]
    return JsonResponse(
        {
            "query": query,
            "room": room.name if room else None,
            "results": [_hit_json(hit) for hit in hits],
            "more": more,
            "next_before": hits[-1].message.pk if more else None,
        }
    )


def _hit_json(hit: search.Hit) -> dict:
    message = hit.message
    return {
        "id": message.pk,
        "room": message.room.name,
        "room_title": message.room.display_title,
        "author": _author_json(message.author),
        "created": message.created.isoformat(),
        "excerpt_html": str(hit.excerpt),
        "url": message.get_absolute_url(),
    }
