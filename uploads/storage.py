"""Where uploads live: local media (FileSystemStorage) or Cloudinary when CLOUDINARY_URL is set.

`save_validated` stores a validated file and its thumbnail under names the server
makes up; `delete_stored` removes them. Both go through the default storage, so
callers never know which one is configured.

The Cloudinary storage uses Cloudinary's own SDK. Files are uploaded with
delivery type "private": Cloudinary serves them only through signed download
URLs that expire, so a leaked or guessed name is useless.
Images go up as image resources (Cloudinary serves them with an image type),
PDFs and text as raw resources (Cloudinary would otherwise refuse PDF delivery).
"""

from __future__ import annotations

import logging
import time
import uuid
from functools import partial
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

import cloudinary.api
import cloudinary.exceptions
import cloudinary.uploader
import cloudinary.utils
import urllib3
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile, File
from django.core.files.storage import Storage, default_storage
from django.db import transaction
from django.utils.deconstruct import deconstructible

from uploads.validation import IMAGE_EXTENSIONS, ValidatedFile

logger = logging.getLogger(__name__)

DELIVERY_TYPE = "private"


def save_validated(*, file: ValidatedFile, prefix: str) -> tuple[str, str | None]:
    """Store a validated file (and its thumbnail) under fresh server-made names.

    Returns the storage names of the file and of the thumbnail (None without one).
    `prefix` is a folder such as "chat/2025/01" or "proofs/42".
    """
    prefix = prefix.strip("/")
    stem = uuid.uuid4().hex
    name = default_storage.save(f"{prefix}/{stem}.{file.extension}", ContentFile(file.content))
    thumbnail_name = None
    if file.thumbnail:
        try:
            thumbnail_name = default_storage.save(
                f"{prefix}/thumbs/{stem}.{file.thumbnail_extension}", ContentFile(file.thumbnail)
            )
        except Exception:
            default_storage.delete(name)
            raise
    return name, thumbnail_name


def delete_stored(*names: str | None) -> None:
    """Delete stored files by name; names already gone are fine."""
    for name in names:
        if name:
            default_storage.delete(name)


def delete_quietly(names: list[str]) -> None:
    """Delete what a user no longer has, logging what fails: an orphan file is
    harmless, failing the user's request over one is not."""
    for name in names:
        try:
            delete_stored(name)
        except Exception:
            logger.warning("could not delete stored file %s", name, exc_info=True)


def delete_after_commit(names: list[str]) -> None:
    """Delete these files once the change that dropped them is committed (a
    rollback keeps them)."""
    transaction.on_commit(partial(delete_quietly, list(names)))


def parse_cloudinary_url(url: str) -> dict[str, str]:
    """`cloudinary://<api_key>:<api_secret>@<cloud_name>` as SDK options."""
    parts = urlsplit(url)
    if parts.scheme != "cloudinary" or not parts.hostname or not parts.username or not parts.password:
        raise ImproperlyConfigured("CLOUDINARY_URL must look like cloudinary://<api_key>:<api_secret>@<cloud_name>")
    return {
        "cloud_name": parts.hostname,
        "api_key": unquote(parts.username),
        "api_secret": unquote(parts.password),
    }


@deconstructible
class CloudinaryStorage(Storage):
    """Private Cloudinary storage; names keep their extension, like local files."""

    def __init__(self, cloudinary_url: str | None = None, url_ttl: int | None = None) -> None:
        self._url = cloudinary_url
        self._url_ttl = url_ttl

    @property
    def credentials(self) -> dict[str, str]:
        # Passed on every call instead of configuring the SDK globally, so settings
        # (and tests' overrides) decide, not whatever the process imported first.
        return parse_cloudinary_url(self._url or settings.CLOUDINARY_URL)

    @property
    def url_ttl(self) -> int:
        return self._url_ttl or settings.UPLOAD_URL_TTL_SECONDS

    def _resource(self, name: str) -> dict[str, str]:
        """Cloudinary addressing for a storage name: public id, resource type, format."""
        path = PurePosixPath(name)
        extension = path.suffix.lower().lstrip(".")
        if extension in IMAGE_EXTENSIONS:
            return {"public_id": str(path.with_suffix("")), "resource_type": "image", "format": extension}
        # Raw resources keep the extension in their public id.
        return {"public_id": name, "resource_type": "raw", "format": ""}

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        # Names are fresh UUIDs; asking the rate-limited Admin API whether one is
        # taken would cost a request per upload. overwrite=False guards the rest.
        return name

    def _save(self, name: str, content: File) -> str:
        resource = self._resource(name)
        content.seek(0)
        data = content.read()
        cloudinary.uploader.upload(
            (PurePosixPath(name).name, data),
            public_id=resource["public_id"],
            resource_type=resource["resource_type"],
            type=DELIVERY_TYPE,
            overwrite=False,
            unique_filename=False,
            use_filename=False,
            **self.credentials,
        )
        return name

    def delete(self, name: str) -> None:
        resource = self._resource(name)
        cloudinary.uploader.destroy(
            resource["public_id"],
            resource_type=resource["resource_type"],
            type=DELIVERY_TYPE,
            invalidate=True,
            **self.credentials,
        )

    def exists(self, name: str) -> bool:
        resource = self._resource(name)
        try:
            cloudinary.api.resource(
                resource["public_id"],
                resource_type=resource["resource_type"],
                type=DELIVERY_TYPE,
                **self.credentials,
            )
        except cloudinary.exceptions.NotFound:
            return False
        return True

    def size(self, name: str) -> int:
        resource = self._resource(name)
        result = cloudinary.api.resource(
            resource["public_id"], resource_type=resource["resource_type"], type=DELIVERY_TYPE, **self.credentials
        )
        return int(result["bytes"])

    def signed_url(self, name: str, *, attachment: bool = False, download_name: str = "") -> str:
        """A signed download URL for `name` that stops working after UPLOAD_URL_TTL_SECONDS.

        As an attachment, the file downloads under `download_name` (the original
        filename) rather than the server-made public id.
        """
        resource = self._resource(name)
        return cloudinary.utils.private_download_url(
            resource["public_id"],
            resource["format"],
            resource_type=resource["resource_type"],
            type=DELIVERY_TYPE,
            # The original name rides in the signed `attachment` value (a bare True
            # would save the file under its server-made public id); being signed,
            # it cannot be changed by whoever holds the URL.
            attachment=(download_name or True) if attachment else None,
            expires_at=int(time.time()) + self.url_ttl,
            **self.credentials,
        )

    def url(self, name: str) -> str:
        return self.signed_url(name)

    def _open(self, name: str, mode: str = "rb") -> File:
        response = urllib3.PoolManager().request("GET", self.signed_url(name), timeout=30.0)
        if response.status == 404:
            raise FileNotFoundError(name)
        if response.status >= 400:
            raise OSError(f"Cloudinary answered {response.status} for {name}")
        file = ContentFile(response.data)
        file.name = name
        return file

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        raise NotImplementedError("Cloudinary storage does not list folders.")
