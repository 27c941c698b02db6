"""A chat message's file: the upload view, the guarded file views and their URLs.

The upload view only validates and hands the file to `message_post`; the message
reaches everyone (the uploader too) over the room's socket like any other.
Checking, storing and serving the bytes is the uploads app's job.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from rooms import selectors, services
from rooms.models import Message, Room
from rooms.views import refusal_status, room_gone
from uploads import delivery, limits, validation

ERROR_TEMPLATE = "rooms/upload_error.html"
ERROR_PAGE_TEMPLATE = "rooms/upload_rejected.html"
STATUS_TEMPLATE = "rooms/upload_status.html"


def _rejected(request: HttpRequest, room: Room, error: str, *, status: int = 422) -> HttpResponse:
    template = ERROR_TEMPLATE if request.htmx else ERROR_PAGE_TEMPLATE
    return render(request, template, {"room": room, "error": error}, status=status)


@require_POST
@login_required
def chat_upload(request: HttpRequest, name: str) -> HttpResponse:
    try:
        room = selectors.room_for_user(name=name, user=request.user)
    except selectors.RoomAccessDenied:
        return room_gone(request)
    # Counted before anything is read, so rejected attempts count too.
    if limits.upload_rate_exceeded(user=request.user):
        return _rejected(request, room, limits.UPLOAD_RATE_LIMITED, status=429)
    if limits.upload_was_too_large(request):
        return _rejected(request, room, validation.too_large_message(), status=413)
    try:
        validated = validation.validate_upload(request.FILES.get("file"))
        services.message_post(room=room, author=request.user, body=request.POST.get("body", ""), attachment=validated)
    except validation.UploadRejected as error:
        return _rejected(request, room, str(error))
    except services.ChatError as error:
        return _rejected(request, room, str(error), status=refusal_status(error))
    except selectors.RoomAccessDenied:
        return room_gone(request)  # removed from the room while uploading
    if request.htmx:
        return render(request, STATUS_TEMPLATE, {"room": room})
    return redirect(room.get_absolute_url())


def _readable_message(request: HttpRequest, pk: int) -> Message:
    message = get_object_or_404(Message.objects.select_related("room"), pk=pk)
    # 404, not 403: whether a message id exists is nobody else's business.
    if not selectors.can_read(room=message.room, user=request.user):
        raise Http404("No such file.")
    return message


@require_GET
@login_required
def message_file(request: HttpRequest, pk: int) -> HttpResponse:
    message = _readable_message(request, pk)
    if not message.attachment:
        raise Http404("No such file.")
    return delivery.file_response(
        name=message.attachment.name, content_type=message.attachment_type, display_name=message.attachment_name
    )


@require_GET
@login_required
def message_thumbnail(request: HttpRequest, pk: int) -> HttpResponse:
    message = _readable_message(request, pk)
    if not message.attachment_thumbnail:
        raise Http404("No such file.")
    return delivery.file_response(name=message.attachment_thumbnail.name, display_name=message.attachment_name)
