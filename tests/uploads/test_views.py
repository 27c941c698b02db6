"""The chat upload view: a file becomes a message, or a clear refusal that stores nothing."""

from __future__ import annotations

from io import BytesIO

from django.core.files.storage import default_storage
from django.utils.html import escape
from PIL import Image

from rooms.models import Message
from tests.uploads.samples import image_bytes, jpeg_with_gps, stored_files, upload
from uploads import limits, validation

HTMX = {"HTTP_HX_REQUEST": "true"}


def post_file(client, room_name: str, data: bytes, name: str, body: str = "", **extra: str):
    return client.post(f"/chat/upload/{room_name}/", {"file": upload(data, name), "body": body}, **extra)


def test_member_upload_posts_a_message_that_renders_the_preview(media, group, client_for):
    from rooms import broadcasts

    room, owner, member = group

    response = post_file(client_for(member), room.name, jpeg_with_gps(), "../../Screenshot 1.jpg", "look", **HTMX)

    assert response.status_code == 200
    message = Message.objects.get(room=room)
    assert (message.author, message.body, message.attachment_name) == (member, "look", "Screenshot 1.jpg")
    assert message.attachment_type == "image/jpeg" and "Screenshot" not in message.attachment.name
    assert default_storage.exists(message.attachment.name)
    html = broadcasts.render_message(message)
    assert f"/files/message/{message.pk}/thumb/" in html and "Screenshot 1.jpg" in html


def test_upload_without_htmx_redirects_back_to_the_room(group, client_for):
    room, owner, _ = group

    response = post_file(client_for(owner), room.name, b"meeting notes", "notes.txt")

    assert response.status_code == 302 and response["Location"] == room.get_absolute_url()
    assert Message.objects.get(room=room).attachment_name == "notes.txt"


def test_rejected_upload_answers_with_the_reason_and_stores_nothing(media, group, client_for):
    room, owner, _ = group
    html = b"<html><script>alert(1)</script></html>"

    fragment = post_file(client_for(owner), room.name, html, "cat.jpg", **HTMX)
    page = post_file(client_for(owner), room.name, html, "cat.jpg")
    missing = client_for(owner).post(f"/chat/upload/{room.name}/", {"body": "no file"}, **HTMX)

    assert fragment.status_code == 422 and escape(validation.UPLOAD_NAME_MISMATCH) in fragment.content.decode()
    assert "<html" not in fragment.content.decode()
    assert page.status_code == 422 and room.get_absolute_url() in page.content.decode()
    assert missing.status_code == 422 and validation.UPLOAD_MISSING in missing.content.decode()
    assert not Message.objects.filter(room=room).exists()
    assert stored_files(media) == []


def test_oversize_upload_is_refused_with_413(settings, media, group, client_for):
    room, owner, _ = group
    settings.UPLOAD_MAX_BYTES = 1000
    client = client_for(owner)

    # Under the Content-Length shortcut: the upload handler stops reading the file.
    small_overrun = post_file(client, room.name, b"a" * 5000, "big.txt", **HTMX)
    # Far over: refused on Content-Length alone.
    large_overrun = post_file(client, room.name, b"a" * 200_000, "big.txt", **HTMX)

    for response in (small_overrun, large_overrun):
        assert response.status_code == 413
        assert "at most 1000" in response.content.decode()
    assert not Message.objects.filter(room=room).exists()
    assert stored_files(media) == []


def test_non_members_cannot_upload(media, group, make_user, client_for):
    room, _, _ = group
    outsider = make_user("outsider")

    response = post_file(client_for(outsider), room.name, image_bytes(), "x.png", **HTMX)
    page = post_file(client_for(outsider), room.name, image_bytes(), "x.png")

    # A page gets the room-gone notice to show in place (403, swapped); the same
    # for a room that never existed, so nothing tells the two apart.
    assert response.status_code == 403 and 'id="room-gone"' in response.content.decode()
    assert post_file(client_for(outsider), "nowhere", image_bytes(), "x.png", **HTMX).content == response.content
    assert page.status_code == 404
    assert client_for(None).post(f"/chat/upload/{room.name}/").status_code == 302
    assert client_for(outsider).get(f"/chat/upload/{room.name}/").status_code == 405
    assert not Message.objects.filter(room=room).exists()
    assert stored_files(media) == []


def test_uploads_are_rate_limited_per_user(settings, group, client_for):
    room, owner, member = group
    settings.UPLOAD_RATE_LIMIT = 2

    statuses = [post_file(client_for(owner), room.name, b"hi", "a.txt", **HTMX).status_code for _ in range(3)]
    limited = post_file(client_for(owner), room.name, b"hi", "a.txt", **HTMX)

    assert statuses == [200, 200, 429]
    assert limits.UPLOAD_RATE_LIMITED in limited.content.decode()
    assert post_file(client_for(member), room.name, b"hi", "a.txt", **HTMX).status_code == 200
    assert Message.objects.filter(room=room).count() == 3


def test_upload_form_posts_multipart_to_the_upload_view(group, rf):
    from django.template.loader import render_to_string

    room, owner, _ = group
    request = rf.get("/")
    request.user = owner

    html = render_to_string("rooms/upload_form.html", {"room": room}, request=request)

    assert f'hx-post="/chat/upload/{room.name}/"' in html
    assert 'hx-encoding="multipart/form-data"' in html and 'enctype="multipart/form-data"' in html
    assert 'name="file"' in html and "<progress" in html
    assert "hx-on" not in html and "<script" not in html


def test_html_after_the_image_end_marker_is_not_stored(media, group, client_for):
    room, owner, _ = group
    payload = b"<html><script>alert(document.cookie)</script></html>"
    for data, name in ((image_bytes("PNG"), "tail.png"), (image_bytes("JPEG"), "tail.jpg")):
        assert data.endswith(b"IEND\xaeB`\x82" if name.endswith(".png") else b"\xff\xd9")
        response = post_file(client_for(owner), room.name, data + payload, name, **HTMX)
        assert response.status_code == 200
        message = Message.objects.filter(room=room).latest("pk")
        for stored_name in (message.attachment.name, message.attachment_thumbnail.name):
            with default_storage.open(stored_name, "rb") as handle:
                stored = handle.read()
            assert b"<html" not in stored and b"script" not in stored
            Image.open(BytesIO(stored)).verify()
