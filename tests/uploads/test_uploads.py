"""Uploads: validation, storage (local and Cloudinary), guarded delivery, the upload view."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from io import BytesIO, StringIO
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import urllib3
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.html import escape
from PIL import ExifTags, Image

from rooms.file_views import attachment_url
from rooms.models import Message
from rooms.services import store_attachment
from uploads import limits, storage, validation
from uploads.validation import UploadRejected, validate_upload

# HELPERS


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (64, 48), **save: object) -> bytes:
    out = BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format=fmt, **save)
    return out.getvalue()


def jpeg_with_gps() -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SpyPhone"
    exif[ExifTags.Base.Orientation] = 6  # rotated 90°: the stored image must come out upright
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (52.0, 13.0, 30.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (13.0, 24.0, 10.0)
    return image_bytes("JPEG", (64, 48), exif=exif, comment=b"taken at home")


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims `width` x `height`: a decompression bomb's shape."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def upload(data: bytes, name: str, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def rejected(data: bytes, name: str, **kwargs: object) -> str:
    with pytest.raises(UploadRejected) as error:
        validate_upload(upload(data, name), **kwargs)
    return str(error.value)


def stored_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


@pytest.fixture(autouse=True)
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    }
    # A private cache per test: the rate-limit counters must not leak between tests,
    # and clearing a shared Redis cache would wipe other runs' keys.
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": f"uploads-{tmp_path}"}
    }
    return tmp_path


# VALIDATION


@pytest.mark.parametrize(
    ("fmt", "name", "content_type", "extension"),
    [
        ("PNG", "shot.png", "image/png", "png"),
        ("JPEG", "photo.JPEG", "image/jpeg", "jpg"),
        ("GIF", "funny.gif", "image/gif", "gif"),
        ("WEBP", "pic.webp", "image/webp", "webp"),
    ],
)
def test_allowed_images_are_reencoded_with_a_thumbnail(fmt, name, content_type, extension):
    result = validate_upload(upload(image_bytes(fmt, (900, 600)), name))

    assert (result.content_type, result.extension, result.original_name) == (content_type, extension, name)
    assert Image.open(BytesIO(result.content)).size == (900, 600)
    thumbnail = Image.open(BytesIO(result.thumbnail))
    assert max(thumbnail.size) <= 480
    assert result.thumbnail_extension in {"png", "jpg", "webp"}


def test_animated_gif_keeps_its_frames():
    frames = [Image.new("RGB", (40, 40), color) for color in ("red", "green", "blue")]
    out = BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=80, loop=0)

    assert Image.open(out).n_frames == 3

    result = validate_upload(upload(out.getvalue(), "loop.gif"))

    assert Image.open(BytesIO(result.content)).n_frames == 3


def test_pdf_and_utf8_text_are_accepted_as_documents():
    pdf = validate_upload(upload(b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n", "invoice.pdf"))
    text = validate_upload(upload("Grüße, boosters!\n".encode(), "notes.txt"))

    assert (pdf.content_type, pdf.extension, pdf.thumbnail) == ("application/pdf", "pdf", None)
    assert (text.content_type, text.extension) == ("text/plain", "txt")


def test_png_header_followed_by_html_is_rejected():
    data = b"\x89PNG\r\n\x1a\n<html><script>alert(document.cookie)</script></html>"
    assert rejected(data, "innocent.png") == validation.UPLOAD_IMAGE_INVALID


def test_svg_with_script_is_rejected_whatever_its_name():
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'

    assert rejected(svg, "logo.svg") == validation.UPLOAD_MARKUP
    assert rejected(svg, "logo.txt") == validation.UPLOAD_MARKUP
    assert rejected(svg, "logo.png") == validation.UPLOAD_NAME_MISMATCH
    assert rejected(b'<?xml version="1.0"?>' + svg, "logo.txt") == validation.UPLOAD_MARKUP


def test_html_renamed_to_jpg_is_rejected():
    html = b"<!doctype html><html><body><script>steal()</script></body></html>"

    assert rejected(html, "cute-cat.jpg") == validation.UPLOAD_NAME_MISMATCH
    assert rejected(html, "page.html") == validation.UPLOAD_MARKUP
    assert rejected(html, "page.txt") == validation.UPLOAD_MARKUP


def test_content_that_disagrees_with_its_name_is_rejected():
    assert rejected(image_bytes("PNG"), "shot.jpg") == validation.UPLOAD_NAME_MISMATCH
    assert rejected(image_bytes("JPEG"), "notes.txt") == validation.UPLOAD_NAME_MISMATCH
    assert rejected(b"%PDF-1.4 fake", "notes.txt") == validation.UPLOAD_NAME_MISMATCH
    assert rejected(b"just text", "report.pdf") == validation.UPLOAD_NAME_MISMATCH


def test_other_types_and_broken_text_are_rejected():
    assert rejected(b"MZ\x90\x00binary", "setup.exe") == validation.UPLOAD_TYPE_NOT_ALLOWED
    assert rejected(b"PK\x03\x04zip", "archive.zip") == validation.UPLOAD_TYPE_NOT_ALLOWED
    assert rejected(b"no extension at all", "README") == validation.UPLOAD_TYPE_NOT_ALLOWED
    assert rejected(b"nul\x00inside", "notes.txt") == validation.UPLOAD_TEXT_INVALID
    assert rejected("caf\u00e9".encode("latin-1"), "notes.txt") == validation.UPLOAD_TEXT_INVALID
    assert rejected(b"", "empty.txt") == validation.UPLOAD_EMPTY
    with pytest.raises(UploadRejected, match=validation.UPLOAD_MISSING):
        validate_upload(None)


def test_images_only_refuses_documents():
    assert rejected(b"%PDF-1.7\n", "proof.pdf", images_only=True) == validation.UPLOAD_IMAGES_ONLY
    assert rejected(b"hello", "proof.txt", images_only=True) == validation.UPLOAD_IMAGES_ONLY
    assert validate_upload(upload(image_bytes("PNG"), "proof.png"), images_only=True).extension == "png"


def test_oversize_file_is_rejected_before_it_is_read(settings):
    settings.UPLOAD_MAX_BYTES = 1000
    expected = validation.UPLOAD_TOO_LARGE.format(limit="1000\xa0bytes")

    assert rejected(b"a" * 1001, "big.txt") == expected

    class Unsized:
        """A stream without a size: only the cap plus one byte may be read."""

        name = "big.txt"
        reads: list[int] = []

        def read(self, n: int = -1) -> bytes:
            self.reads.append(n)
            return b"a" * (n if n >= 0 else 10**6)

    with pytest.raises(UploadRejected, match="at most"):
        validate_upload(Unsized())
    assert Unsized.reads == [1001]


def test_decompression_bomb_is_rejected(settings):
    # Past Pillow's own limit: Pillow raises DecompressionBombError.
    assert rejected(png_claiming(100_000, 100_000), "bomb.png").startswith("The image has too many pixels")
    # Between our limit and Pillow's warning threshold: refused by our own check.
    assert rejected(png_claiming(9_000, 9_000), "bomb.png").startswith("The image has too many pixels")
    settings.UPLOAD_MAX_PIXELS = 100
    assert rejected(image_bytes("PNG", (20, 20)), "small.png").startswith("The image has too many pixels")


def test_truncated_images_are_rejected():
    jpeg = image_bytes("JPEG", (300, 300))
    png = image_bytes("PNG", (300, 300))

    assert rejected(jpeg[: len(jpeg) // 2], "cut.jpg") == validation.UPLOAD_IMAGE_INVALID
    assert rejected(png[: len(png) - 30], "cut.png") == validation.UPLOAD_IMAGE_INVALID


def test_path_parts_control_characters_and_long_names_are_sanitised():
    traversal = validate_upload(File(BytesIO(image_bytes()), name="../../etc/passwd.png"))
    windows = validate_upload(File(BytesIO(image_bytes()), name="C:\\Users\\me\\..\\evil.png"))
    sneaky = validate_upload(File(BytesIO(b"hi"), name="bad\x00\x1b[31m\u202egnp.txt"))
    long = validate_upload(File(BytesIO(image_bytes()), name="a" * 1000 + ".png"))

    assert traversal.original_name == "passwd.png"
    assert windows.original_name == "evil.png"
    assert sneaky.original_name == "bad[31mgnp.txt"
    assert len(long.original_name) == 255 and long.original_name.endswith(".png")


# STORAGE


def test_stored_names_come_from_the_server_not_the_upload(media, make_user, group):
    room, owner, _ = group
    validated = validate_upload(File(BytesIO(image_bytes()), name="../../" + "x" * 300 + ".png"))
    message = Message(room=room, author=owner, body="")

    store_attachment(message=message, file=validated)
    message.save()

    assert message.attachment.name.startswith("chat/") and "x" * 10 not in message.attachment.name
    assert Path(message.attachment.name).stem == Path(message.attachment_thumbnail.name).stem
    assert len(Path(message.attachment.name).stem) == 32
    assert message.attachment_name == "x" * 251 + ".png"
    assert (message.attachment_type, message.attachment_size) == ("image/png", len(validated.content))
    assert all(path.resolve().is_relative_to(media.resolve()) for path in stored_files(media))
    assert len(stored_files(media)) == 2


def test_exif_and_gps_are_stripped_from_stored_images(media, group):
    room, owner, _ = group
    original = jpeg_with_gps()
    assert Image.open(BytesIO(original)).getexif().get_ifd(ExifTags.IFD.GPSInfo)

    message = Message(room=room, author=owner, body="")
    store_attachment(message=message, file=validate_upload(upload(original, "holiday.jpg")))

    for name in (message.attachment.name, message.attachment_thumbnail.name):
        with default_storage.open(name, "rb") as handle:
            stored = handle.read()
        image = Image.open(BytesIO(stored))
        assert not image.getexif()
        assert not image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        assert "exif" not in image.info and "comment" not in image.info
        assert b"Exif" not in stored and b"SpyPhone" not in stored and b"taken at home" not in stored
    # The orientation was applied before EXIF went: 64x48 rotated stands upright.
    with default_storage.open(message.attachment.name, "rb") as handle:
        assert Image.open(handle).size == (48, 64)


def test_delete_stored_removes_file_and_thumbnail(media, group):
    room, owner, _ = group
    message = Message(room=room, author=owner, body="")
    store_attachment(message=message, file=validate_upload(upload(image_bytes(), "a.png")))
    message.save()
    names = [message.attachment.name, message.attachment_thumbnail.name]
    assert all(default_storage.exists(name) for name in names)

    storage.delete_stored(message.attachment.name, message.attachment_thumbnail.name)

    assert not any(default_storage.exists(name) for name in names)
    assert stored_files(media) == []


def test_save_validated_for_proofs_uses_the_prefix(media):
    validated = validate_upload(upload(image_bytes(), "rank.png"), images_only=True)

    name, thumbnail = storage.save_validated(file=validated, prefix="proofs/42/")

    assert name.startswith("proofs/42/") and name.endswith(".png")
    assert thumbnail.startswith("proofs/42/thumbs/")
    assert default_storage.exists(name) and default_storage.exists(thumbnail)


# DELIVERY


def make_message_with(room, author, data: bytes, name: str) -> Message:
    message = Message(room=room, author=author, body="")
    store_attachment(message=message, file=validate_upload(upload(data, name)))
    message.save()
    return message


def test_members_get_the_file_inline_with_nosniff(group, make_user, client_for):
    room, owner, member = group
    message = make_message_with(room, owner, image_bytes(), "shot.png")

    response = client_for(member).get(attachment_url(message))
    thumb = client_for(member).get(attachment_url(message, thumbnail=True))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("inline")
    assert "sandbox" in response["Content-Security-Policy"]
    assert b"".join(response.streaming_content) == default_storage.open(message.attachment.name).read()
    assert thumb.status_code == 200 and thumb["X-Content-Type-Options"] == "nosniff"
    assert attachment_url(message) != attachment_url(message, thumbnail=True)


def test_documents_download_with_their_original_name(group, client_for):
    room, owner, member = group
    message = make_message_with(room, owner, b"%PDF-1.7\n%%EOF\n", "Order #12 receipt.pdf")

    response = client_for(member).get(attachment_url(message))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment")
    assert "Order #12 receipt.pdf" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert client_for(member).get(attachment_url(message, thumbnail=True)).status_code == 200


def test_non_members_and_strangers_cannot_fetch_files(group, make_user, client_for):
    room, owner, _ = group
    message = make_message_with(room, owner, image_bytes(), "private.png")
    outsider = make_user("outsider")

    assert client_for(outsider).get(attachment_url(message)).status_code == 404
    assert client_for(outsider).get(attachment_url(message, thumbnail=True)).status_code == 404
    anonymous = client_for(None).get(attachment_url(message))
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    assert client_for(outsider).get("/files/message/999999/").status_code == 404


def test_attachment_template_links_through_the_guarded_urls(group):
    from django.template.loader import render_to_string

    room, owner, _ = group
    image = make_message_with(room, owner, image_bytes(), "<img src=x onerror=alert(1)>.png")
    document = make_message_with(room, owner, b"hello", "notes.txt")

    image_html = render_to_string("rooms/attachment.html", {"message": image})
    document_html = render_to_string("rooms/attachment.html", {"message": document})

    assert f'src="/files/message/{image.pk}/thumb/"' in image_html
    assert f'href="/files/message/{image.pk}/"' in image_html
    assert "&lt;img src=x onerror=alert(1)&gt;.png" in image_html and "onerror=alert(1)>" not in image_html
    assert f'href="/files/message/{document.pk}/"' in document_html and "notes.txt" in document_html
    assert "/media/" not in image_html + document_html


# CLOUDINARY

CLOUDINARY_URL = "cloudinary://123456789012345:not-a-real-secret@boost-cloud"


@pytest.fixture
def cloudinary_requests(settings, monkeypatch) -> list[dict]:
    """Cloudinary as the default storage, with its HTTP calls answered locally."""
    settings.CLOUDINARY_URL = CLOUDINARY_URL
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "uploads.storage.CloudinaryStorage"}}
    calls: list[dict] = []

    def fake_request(self, method, url, fields=None, headers=None, **kwargs):
        calls.append({"method": method, "url": url, "fields": fields, "headers": headers})
        payload = {"result": "ok", "public_id": "x", "bytes": 3}
        return urllib3.HTTPResponse(body=json.dumps(payload).encode(), status=200, headers={}, preload_content=True)

    monkeypatch.setattr(urllib3.PoolManager, "request", fake_request)
    return calls


def test_cloudinary_storage_uploads_signed_private_files(cloudinary_requests, group, client_for):
    from uploads.storage import CloudinaryStorage

    room, owner, member = group
    message = make_message_with(room, owner, image_bytes(), "shot.png")

    assert isinstance(default_storage._wrapped, CloudinaryStorage)
    uploads = [call for call in cloudinary_requests if call["url"].endswith("/upload")]
    assert [call["url"] for call in uploads] == ["https://api.cloudinary.com/v1_1/boost-cloud/image/upload"] * 2
    fields = dict((key, value) for key, value in uploads[0]["fields"] if key != "file")
    assert fields["type"] == "private"
    assert fields["api_key"] == "123456789012345"
    assert len(fields["signature"]) == 40
    assert fields["public_id"] == message.attachment.name.removesuffix(".png")
    sent_name, sent_bytes = dict(uploads[0]["fields"])["file"]
    assert sent_bytes.startswith(b"\x89PNG") and "shot" not in sent_name
    assert "not-a-real-secret" not in json.dumps([str(call) for call in cloudinary_requests])

    response = client_for(member).get(attachment_url(message))

    assert response.status_code == 302
    location = urlsplit(response["Location"])
    query = parse_qs(location.query)
    assert location.netloc == "api.cloudinary.com"
    assert location.path == "/v1_1/boost-cloud/image/download"
    assert query["type"] == ["private"] and query["signature"] and int(query["expires_at"][0]) > 0
    assert response["Cache-Control"] == "private, no-store"


def test_cloudinary_documents_are_raw_and_deleted_through_the_api(cloudinary_requests, group):
    room, owner, _ = group
    message = make_message_with(room, owner, b"%PDF-1.7\n%%EOF\n", "receipt.pdf")
    upload_call = cloudinary_requests[-1]
    assert upload_call["url"] == "https://api.cloudinary.com/v1_1/boost-cloud/raw/upload"
    assert dict(upload_call["fields"])["public_id"] == message.attachment.name

    storage.delete_stored(message.attachment.name, message.attachment_thumbnail.name)

    destroy = cloudinary_requests[-1]
    assert destroy["url"] == "https://api.cloudinary.com/v1_1/boost-cloud/raw/destroy"
    fields = dict(destroy["fields"])
    assert fields["public_id"] == message.attachment.name and fields["type"] == "private" and fields["signature"]


def test_cloudinary_url_in_the_environment_switches_storage():
    probe = "import config.settings as s; print(s.STORAGES['default']['BACKEND'])"
    clean = {key: value for key, value in os.environ.items() if key not in {"CLOUDINARY_URL", "DEBUG"}}

    def backend(**env: str) -> str:
        result = subprocess.run(
            [sys.executable, "-c", probe],
            cwd=Path(__file__).resolve().parents[2],
            env={**clean, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    assert backend() == "django.core.files.storage.FileSystemStorage"
    assert backend(CLOUDINARY_URL=CLOUDINARY_URL) == "uploads.storage.CloudinaryStorage"


# THE UPLOAD VIEW

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

    assert fragment.status_code == 400 and escape(validation.UPLOAD_NAME_MISMATCH) in fragment.content.decode()
    assert "<html" not in fragment.content.decode()
    assert page.status_code == 400 and room.get_absolute_url() in page.content.decode()
    assert missing.status_code == 400 and validation.UPLOAD_MISSING in missing.content.decode()
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

    assert response.status_code == 404
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


def test_animations_with_too_many_frames_are_rejected(monkeypatch):
    monkeypatch.setattr(validation, "MAX_FRAMES", 2)
    frames = [Image.new("RGB", (8, 8), color) for color in ("red", "green", "blue")]
    out = BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=80)

    assert rejected(out.getvalue(), "long.gif") == validation.UPLOAD_TOO_MANY_FRAMES.format(limit=2)


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


# CLEANING UP FILES


def chat_file(room, author, name: str = "a.png") -> Message:
    from rooms import services

    data = image_bytes() if name.endswith(".png") else b"some notes"
    return services.message_post(room=room, author=author, body="", attachment=validate_upload(upload(data, name)))


@pytest.mark.django_db(transaction=True)
def test_purge_command_deletes_expired_files_and_thumbnails(media, group):
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    room, owner, _ = group
    room.retention = timedelta(days=1)
    room.save()
    old, fresh = chat_file(room, owner), chat_file(room, owner)
    Message.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(days=2))
    old_names = [old.attachment.name, old.attachment_thumbnail.name]
    assert all(default_storage.exists(name) for name in old_names)

    call_command("purge_expired_messages", stdout=StringIO())

    assert not any(default_storage.exists(name) for name in old_names)
    assert list(Message.objects.values_list("pk", flat=True)) == [fresh.pk]
    assert default_storage.exists(fresh.attachment.name) and default_storage.exists(fresh.attachment_thumbnail.name)


def test_purge_deletes_files_only_after_commit_and_survives_storage_errors(
    media, group, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from rooms import services

    room, owner, _ = group
    room.retention = timedelta(days=1)
    room.save()
    broken, other = chat_file(room, owner), chat_file(room, owner, "notes.txt")
    Message.objects.update(created=timezone.now() - timedelta(days=2))
    from django.core.files.storage import FileSystemStorage

    real_delete = FileSystemStorage.delete

    def flaky_delete(self, name):
        if name == broken.attachment.name:
            raise OSError("storage is having a moment")
        real_delete(self, name)

    monkeypatch.setattr(FileSystemStorage, "delete", flaky_delete)
    with django_capture_on_commit_callbacks() as callbacks:
        assert services.messages_purge_expired() == 2
        # Rows are gone; files wait for the commit.
        assert not Message.objects.exists()
        assert default_storage.exists(other.attachment.name)
    for callback in callbacks:
        callback()

    assert "storage is having a moment" in caplog.text
    assert not default_storage.exists(broken.attachment_thumbnail.name)
    assert not default_storage.exists(other.attachment.name)


def test_failed_save_removes_the_stored_files(media, group, monkeypatch):
    from django.db import OperationalError

    room, owner, _ = group

    def database_away(self, *args, **kwargs):
        raise OperationalError("database is away")

    monkeypatch.setattr(Message, "save", database_away)
    with pytest.raises(OperationalError):
        chat_file(room, owner)
    assert stored_files(media) == []


def test_room_delete_removes_files_after_commit(media, group, django_capture_on_commit_callbacks):
    from rooms import services
    from rooms.models import Room

    room, owner, _ = group
    message = chat_file(room, owner)
    names = [message.attachment.name, message.attachment_thumbnail.name]
    with django_capture_on_commit_callbacks() as callbacks:
        services.room_delete(room=room, by=owner)
        assert not Room.objects.filter(pk=room.pk).exists()
        # A rollback from here would bring the messages back, so their files stay.
        assert all(default_storage.exists(name) for name in names)
    for callback in callbacks:
        callback()
    assert stored_files(media) == []


def test_cloudinary_download_url_expires_after_the_ttl_and_keeps_the_name(
    cloudinary_requests, group, client_for, settings
):
    import time

    room, owner, member = group
    settings.UPLOAD_URL_TTL_SECONDS = 120
    document = make_message_with(room, owner, b"%PDF-1.7\n%%EOF\n", "Order #12 receipt.pdf")
    image = make_message_with(room, owner, image_bytes(), "shot.png")

    requested_at = time.time()
    response = client_for(member).get(attachment_url(document))
    inline = client_for(member).get(attachment_url(image))

    query = parse_qs(urlsplit(response["Location"]).query)
    assert abs(int(query["expires_at"][0]) - (requested_at + 120)) <= 5
    assert query["attachment"] == ["Order #12 receipt.pdf"]
    assert "attachment" not in parse_qs(urlsplit(inline["Location"]).query)  # images open in the page
    assert not [call for call in cloudinary_requests if "download" in call["url"]]  # signed locally, no API call


# THE SIZE CAP AT THE ASGI EDGE


async def asgi_post(app, path: str, chunks: list[bytes], headers: list[tuple[bytes, bytes]] = ()) -> dict:
    """POST `chunks` as a streamed body; the response's status, headers and text."""
    from channels.testing import ApplicationCommunicator

    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    communicator = ApplicationCommunicator(app, scope)
    for index, chunk in enumerate(chunks):
        await communicator.send_input({"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1})
    start = await communicator.receive_output(timeout=5)
    body = b""
    while True:
        part = await communicator.receive_output(timeout=5)
        body += part.get("body", b"")
        if not part.get("more_body"):
            break
    await communicator.wait(timeout=5)
    return {"status": start["status"], "headers": dict(start["headers"]), "body": body.decode()}


def recording_app():
    """A stand-in for Django that reads the whole body, then answers 200."""
    seen = {"bytes": 0}

    async def app(scope, receive, send):
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            seen["bytes"] += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return app, seen


@pytest.mark.parametrize("path", ["/chat/upload/squad/", "/orders/7/proofs/"])
async def test_oversize_content_length_is_refused_before_the_app_reads_it(settings, path):
    from config.asgi import application

    settings.UPLOAD_MAX_BYTES = 1000
    cap = 1000 + limits.MULTIPART_OVERHEAD
    # Through the real application: the answer comes without Django, a session or the database.
    response = await asgi_post(application, path, [b"x" * 10], [(b"content-length", str(cap + 1).encode())])

    assert response["status"] == 413
    assert response["body"] == validation.too_large_message() == "Files can be at most 1000\xa0bytes."
    assert response["headers"][b"content-type"].startswith(b"text/plain")


async def test_streamed_body_without_length_is_cut_off_at_the_cap(settings):
    from config.asgi import application

    settings.UPLOAD_MAX_BYTES = 1000
    chunk = b"x" * 16 * 1024
    response = await asgi_post(application, "/chat/upload/squad/", [chunk] * 10)

    assert response["status"] == 413 and "at most 1000" in response["body"]


async def test_the_cap_counts_bytes_even_when_content_length_lies(settings):
    from uploads.limits import UploadSizeLimitMiddleware

    settings.UPLOAD_MAX_BYTES = 1000
    app, seen = recording_app()
    chunk = b"x" * 16 * 1024
    response = await asgi_post(
        UploadSizeLimitMiddleware(app), "/chat/upload/squad/", [chunk] * 10, [(b"content-length", b"100")]
    )

    assert response["status"] == 413
    assert seen["bytes"] <= 1000 + limits.MULTIPART_OVERHEAD


async def test_bodies_under_the_cap_and_other_paths_pass_untouched(settings):
    from uploads.limits import UploadSizeLimitMiddleware

    settings.UPLOAD_MAX_BYTES = 1000
    big = [b"x" * 100_000]
    app, seen = recording_app()
    under = await asgi_post(UploadSizeLimitMiddleware(app), "/chat/upload/squad/", [b"x" * 2000])
    assert under["status"] == 200 and seen["bytes"] == 2000
    app, seen = recording_app()
    elsewhere = await asgi_post(UploadSizeLimitMiddleware(app), "/chat/squad/messages/", big)
    assert elsewhere["status"] == 200 and seen["bytes"] == 100_000
