"""Validation: what may be uploaded, decided from the bytes."""

from __future__ import annotations

from io import BytesIO

import pytest
from django.core.files.base import File
from PIL import Image

from tests.uploads.samples import image_bytes, png_claiming, rejected, upload
from uploads import validation
from uploads.validation import UploadRejected, validate_upload


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


def test_animations_with_too_many_frames_are_rejected(monkeypatch):
    monkeypatch.setattr(validation, "MAX_FRAMES", 2)
    frames = [Image.new("RGB", (8, 8), color) for color in ("red", "green", "blue")]
    out = BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=80)

    assert rejected(out.getvalue(), "long.gif") == validation.UPLOAD_TOO_MANY_FRAMES.format(limit=2)
