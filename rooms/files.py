"""Upload validation and storage for chat files and proof screenshots.

(Owned by the uploads work; the contract below is what rooms and orders use.)
"""

from __future__ import annotations

from dataclasses import dataclass


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
