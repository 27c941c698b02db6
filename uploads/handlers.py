"""The upload handler that caps file size while Django parses a multipart body."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadhandler import FileUploadHandler, SkipFile

from uploads.validation import max_upload_bytes


class UploadSizeLimitHandler(FileUploadHandler):
    """First in FILE_UPLOAD_HANDLERS: stops reading a file part once it passes
    UPLOAD_MAX_BYTES, so an oversize upload never fills memory or the temp dir."""

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > max_upload_bytes():
            # uploads.limits.upload_was_too_large reads this flag, so the views
            # answer with the size error rather than "choose a file".
            self.too_large = True
            raise SkipFile()
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None
