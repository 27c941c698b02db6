"""What may be uploaded: the checks every chat file and proof screenshot passes.

`validate_upload` decides the type from the bytes (never from the name or the
browser's content type), re-encodes images so no metadata or trailing payload
survives, makes a thumbnail, and keeps the original filename for display only.
What it returns is stored by `uploads.storage.save_validated` under a name the
server makes up.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from io import BytesIO
from pathlib import PurePosixPath
from typing import Any

from django.conf import settings
from django.template.defaultfilters import filesizeformat
from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

UPLOAD_MISSING = "Choose a file to upload."
UPLOAD_EMPTY = "The file is empty."
UPLOAD_TOO_LARGE = "Files can be at most {limit}."
UPLOAD_TYPE_NOT_ALLOWED = (
    "Only PNG, JPEG, GIF and WebP images, PDF documents and plain text files (.txt) can be uploaded."
)
UPLOAD_IMAGES_ONLY = "Only PNG, JPEG, GIF and WebP images can be uploaded here."
UPLOAD_NAME_MISMATCH = "The file's contents do not match its name; rename it to the right extension."
UPLOAD_MARKUP = "HTML, SVG and XML files cannot be uploaded."
UPLOAD_IMAGE_INVALID = "The image could not be read: it is damaged, truncated or not really an image."
UPLOAD_IMAGE_TOO_BIG = "The image has too many pixels (at most {limit} megapixels, all frames together)."
UPLOAD_TOO_MANY_FRAMES = "Animations can have at most {limit} frames."
UPLOAD_TEXT_INVALID = "Text files must be UTF-8 text without binary data."

IMAGE_TYPES = {
    # Pillow format: (content type, stored extension, extensions accepted in the original name)
    "PNG": ("image/png", "png", {"png"}),
    "JPEG": ("image/jpeg", "jpg", {"jpg", "jpeg", "jpe", "jfif"}),
    "GIF": ("image/gif", "gif", {"gif"}),
    "WEBP": ("image/webp", "webp", {"webp"}),
}
IMAGE_CONTENT_TYPES = {content_type for content_type, _, _ in IMAGE_TYPES.values()}
# Every name an image may have; storage picks Cloudinary's resource type by the same set.
IMAGE_EXTENSIONS = {ext for _, _, names in IMAGE_TYPES.values() for ext in names}
PDF_EXTENSIONS = {"pdf"}
TEXT_EXTENSIONS = {"txt", "text", "log", "md"}
MARKUP_EXTENSIONS = {"svg", "svgz", "html", "htm", "xhtml", "xht", "shtml", "mht", "mhtml", "xml", "xsl", "xslt"}
THUMBNAIL_SIZE = (480, 480)
MAX_FRAMES = 300
MAX_DISPLAY_NAME = 255
# What browsers sniff as markup even when served as text: `<` then a tag, `<!`, `<?`.
_MARKUP_START = ("<!", "<?")


class UploadRejected(Exception):
    """The file is not acceptable; the message says why, for the user."""


@dataclass(frozen=True)
class ValidatedFile:
    """A file that passed validation, ready to store under a server-made name."""

    content: bytes
    original_name: str  # for display only, already sanitised
    content_type: str
    extension: str  # without dot, chosen by the server from the content
    thumbnail: bytes | None = None  # PNG/JPEG/WebP thumbnail for images
    thumbnail_extension: str = ""


def max_upload_bytes() -> int:
    return settings.UPLOAD_MAX_BYTES


def too_large_message() -> str:
    return UPLOAD_TOO_LARGE.format(limit=filesizeformat(max_upload_bytes()))


def sanitize_filename(name: str) -> str:
    """The original name made safe to show: no path, no control or bidi characters."""
    name = unicodedata.normalize("NFC", str(name or ""))
    # Both separators: a Windows browser may send `C:\\Users\\me\\x.png`.
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    # Cc: control characters; Cf: format characters such as U+202E, which makes
    # "gpj.exe" display as "exe.jpg".
    name = "".join(ch for ch in name if unicodedata.category(ch) not in {"Cc", "Cf"}).strip()
    if name in {"", ".", ".."}:
        return "file"
    if len(name) > MAX_DISPLAY_NAME:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 16:
            name = stem[: MAX_DISPLAY_NAME - len(ext) - 1] + "." + ext
        else:
            name = name[:MAX_DISPLAY_NAME]
    return name


def validate_upload(uploaded_file: Any, *, images_only: bool = False) -> ValidatedFile:
    """Check an uploaded file and return what may be stored, or raise `UploadRejected`.

    `uploaded_file` is a Django `UploadedFile` (or any `File`); its declared
    content type is ignored, the bytes decide.
    """
    if uploaded_file is None:
        raise UploadRejected(UPLOAD_MISSING)
    limit = max_upload_bytes()
    declared_size = getattr(uploaded_file, "size", None)
    if declared_size is not None and declared_size > limit:
        raise UploadRejected(too_large_message())
    if hasattr(uploaded_file, "seek"):
        uploaded_file.seek(0)
    # One byte past the cap is enough to know it is too big without reading it all.
    data = uploaded_file.read(limit + 1)
    if len(data) > limit:
        raise UploadRejected(too_large_message())
    if not data:
        raise UploadRejected(UPLOAD_EMPTY)

    display_name = sanitize_filename(getattr(uploaded_file, "name", "") or "")
    extension = PurePosixPath(display_name).suffix.lower().lstrip(".")
    if extension in MARKUP_EXTENSIONS:
        raise UploadRejected(UPLOAD_MARKUP)

    image_format = _sniff_image(data)
    if image_format is not None:
        if extension not in IMAGE_TYPES[image_format][2]:
            raise UploadRejected(UPLOAD_NAME_MISMATCH)
        return _validate_image(data, image_format, display_name)
    if extension in IMAGE_EXTENSIONS or (data.startswith(b"%PDF-") and extension not in PDF_EXTENSIONS):
        raise UploadRejected(UPLOAD_NAME_MISMATCH)
    if images_only:
        raise UploadRejected(UPLOAD_IMAGES_ONLY)
    if extension in PDF_EXTENSIONS:
        if not data.startswith(b"%PDF-"):
            raise UploadRejected(UPLOAD_NAME_MISMATCH)
        return ValidatedFile(content=data, original_name=display_name, content_type="application/pdf", extension="pdf")
    if extension in TEXT_EXTENSIONS:
        _validate_text(data)
        return ValidatedFile(content=data, original_name=display_name, content_type="text/plain", extension="txt")
    raise UploadRejected(UPLOAD_TYPE_NOT_ALLOWED)


def _sniff_image(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def _validate_text(data: bytes) -> None:
    if b"\x00" in data:
        raise UploadRejected(UPLOAD_TEXT_INVALID)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UploadRejected(UPLOAD_TEXT_INVALID) from None
    head = text.lstrip("\ufeff \t\r\n\f").lower()
    if head.startswith(_MARKUP_START) or (head[:1] == "<" and head[1:2].isalpha()):
        raise UploadRejected(UPLOAD_MARKUP)


def _max_pixels() -> int:
    # Never above Pillow's own bomb threshold: anything that would only warn there
    # is already refused here.
    return min(settings.UPLOAD_MAX_PIXELS, Image.MAX_IMAGE_PIXELS or settings.UPLOAD_MAX_PIXELS)


def _too_big() -> UploadRejected:
    return UploadRejected(UPLOAD_IMAGE_TOO_BIG.format(limit=round(_max_pixels() / 1_000_000)))


def _open_image(data: bytes, image_format: str) -> Image.Image:
    try:
        image = Image.open(BytesIO(data), formats=[image_format])
    except Image.DecompressionBombError:
        raise _too_big() from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise UploadRejected(UPLOAD_IMAGE_INVALID) from None
    if image.format != image_format:
        raise UploadRejected(UPLOAD_NAME_MISMATCH)
    if image.width * image.height > _max_pixels():
        raise _too_big()
    return image


def _validate_image(data: bytes, image_format: str, display_name: str) -> ValidatedFile:
    content_type, extension, _ = IMAGE_TYPES[image_format]
    try:
        # verify() catches broken chunks and checksums; it leaves the image unusable,
        # so the decode below opens it again and loads every pixel (truncation fails there).
        _open_image(data, image_format).verify()
        image = _open_image(data, image_format)
        frame_count = _frame_count(image)
        if frame_count * image.width * image.height > _max_pixels():
            raise _too_big()
        content = _reencode(image, image_format, frame_count)
        thumbnail, thumbnail_extension = _thumbnail(image, image_format)
    except UploadRejected:
        raise
    except Image.DecompressionBombError:
        raise _too_big() from None
    except Exception:
        # Decoders fed hostile bytes raise more than OSError (struct.error,
        # IndexError, KeyError...); whatever it is, the image is not acceptable.
        raise UploadRejected(UPLOAD_IMAGE_INVALID) from None
    return ValidatedFile(
        content=content,
        original_name=display_name,
        content_type=content_type,
        extension=extension,
        thumbnail=thumbnail,
        thumbnail_extension=thumbnail_extension,
    )


def _frame_count(image: Image.Image) -> int:
    """Frames in an animation, refusing early so a GIF of a million tiny frames
    costs no more than MAX_FRAMES seeks."""
    if not getattr(image, "is_animated", False):
        return 1
    count = 0
    for count, _ in enumerate(ImageSequence.Iterator(image), start=1):
        if count > MAX_FRAMES:
            raise UploadRejected(UPLOAD_TOO_MANY_FRAMES.format(limit=MAX_FRAMES))
    image.seek(0)
    return count


def _clean_frame(frame: Image.Image) -> Image.Image:
    """A copy carrying pixels only: EXIF, XMP, GPS, comments and text chunks stay behind."""
    clean = frame.copy()
    transparency = frame.info.get("transparency")
    clean.info = {}
    if transparency is not None:
        clean.info["transparency"] = transparency
    return clean


def _reencode(image: Image.Image, image_format: str, frame_count: int) -> bytes:
    out = BytesIO()
    if frame_count > 1 and image_format in {"GIF", "WEBP"}:
        frames, durations = [], []
        for frame in ImageSequence.Iterator(image):
            frame.load()
            durations.append(frame.info.get("duration", 100))
            frames.append(_clean_frame(frame))
        frames[0].save(
            out,
            format=image_format,
            save_all=True,
            append_images=frames[1:],
            duration=durations,
            loop=image.info.get("loop", 0),
        )
        return out.getvalue()
    image.load()
    # Rotate by the EXIF orientation before dropping EXIF, or phone photos end up sideways.
    clean = _clean_frame(ImageOps.exif_transpose(image))
    if image_format == "JPEG":
        if clean.mode not in {"RGB", "L"}:
            clean = clean.convert("RGB")
        clean.save(out, format="JPEG", quality=90, optimize=True)
    elif image_format == "WEBP":
        clean.save(out, format="WEBP", quality=90)
    else:
        # No optimize: zlib's slowest level on a 40-megapixel PNG takes seconds of CPU.
        clean.save(out, format=image_format)
    return out.getvalue()


def _thumbnail(image: Image.Image, image_format: str) -> tuple[bytes, str]:
    image.seek(0)
    thumb = _clean_frame(ImageOps.exif_transpose(image))
    thumb.thumbnail(THUMBNAIL_SIZE)
    out = BytesIO()
    if image_format == "JPEG":
        thumb.convert("RGB").save(out, format="JPEG", quality=85)
        return out.getvalue(), "jpg"
    if image_format == "WEBP":
        thumb.save(out, format="WEBP", quality=85)
        return out.getvalue(), "webp"
    if thumb.mode not in {"RGB", "RGBA", "L", "LA", "P"}:
        thumb = thumb.convert("RGBA")
    thumb.save(out, format="PNG", optimize=True)
    return out.getvalue(), "png"
