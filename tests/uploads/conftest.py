"""Fixtures of the upload tests: private media and cache, Cloudinary answered locally."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import urllib3

from tests.uploads.samples import CLOUDINARY_URL


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
