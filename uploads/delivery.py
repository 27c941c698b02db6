"""Handing stored files to viewers whose access the calling view has already checked.

Nothing under MEDIA_ROOT is served as a folder: each app's file views check who
is asking, then call `file_response`, which streams a local file or redirects to
a signed, expiring Cloudinary URL.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect

from uploads.validation import IMAGE_CONTENT_TYPES, IMAGE_TYPES

# Stored names carry the extension validation chose, so these are all there is.
CONTENT_TYPES_BY_EXTENSION = {
    **{extension: content_type for content_type, extension, _ in IMAGE_TYPES.values()},
    "pdf": "application/pdf",
    "txt": "text/plain",
}


def content_type_for(name: str) -> str:
    return CONTENT_TYPES_BY_EXTENSION.get(PurePosixPath(name).suffix.lower().lstrip("."), "application/octet-stream")


def file_response(
    *, name: str, content_type: str | None = None, display_name: str = "", max_age: int | None = None
) -> HttpResponse:
    """Hand a stored file to a viewer who has already been checked.

    Local storage streams it; Cloudinary answers with a redirect to a signed URL
    that expires. Only the allowed image types are shown inline; everything else
    downloads, so a browser never renders uploaded content as a page.

    `max_age` is for URLs that name one version of a file (avatars): the browser
    keeps it that long, and keeps a redirect for at most half the signed URL's
    life, so a cached redirect never points at an expired URL.
    """
    content_type = content_type or content_type_for(name)
    inline = content_type in IMAGE_CONTENT_TYPES
    download_name = display_name or PurePosixPath(name).name
    signed_url = getattr(default_storage, "signed_url", None)
    if signed_url is not None:
        response: HttpResponse = HttpResponseRedirect(
            signed_url(name, attachment=not inline, download_name=download_name)
        )
        if max_age:
            ttl = getattr(default_storage, "url_ttl", 0)
            response["Cache-Control"] = f"private, max-age={min(max_age, ttl // 2)}"
        else:
            # The target expires; a cached redirect would outlive it.
            response["Cache-Control"] = "private, no-store"
        return response
    try:
        handle = default_storage.open(name, "rb")
    except (FileNotFoundError, OSError):
        raise Http404("No such file.") from None
    if content_type == "text/plain":
        content_type = "text/plain; charset=utf-8"
    response = FileResponse(handle, content_type=content_type, as_attachment=not inline, filename=download_name)
    response["X-Content-Type-Options"] = "nosniff"
    # Even if something is opened directly, it may not run script or load anything.
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
    response["Cache-Control"] = f"private, max-age={max_age}, immutable" if max_age else "private, max-age=3600"
    return response
