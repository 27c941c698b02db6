"""Storage: server-made names, clean bytes, local media and private Cloudinary files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import BytesIO
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from django.core.files.base import File
from django.core.files.storage import default_storage
from PIL import ExifTags, Image

from rooms.models import Message
from rooms.services import store_attachment
from tests.uploads.samples import (
    CLOUDINARY_URL,
    image_bytes,
    jpeg_with_gps,
    make_message_with,
    stored_files,
    upload,
)
from uploads import storage
from uploads.validation import validate_upload


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

    response = client_for(member).get(message.attachment_url())

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
