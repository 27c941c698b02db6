"""Static files as production serves them (ServeStatic, after collectstatic):
hashed names, gzip and Brotli when asked, and ten years of caching for hashed
names, so a page's assets are fetched once per deploy."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import brotli
import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command
from django.test import AsyncClient, override_settings

from config import settings as site
from rooms import selectors

FOREVER = "max-age=315360000, public, immutable"
ASSET = re.compile(r"""(?:src|href)="(/static/[^"]+)\"""")


@pytest.fixture(scope="module")
def static_root(tmp_path_factory) -> Path:
    """The site's own static storage, collected once into a fresh STATIC_ROOT."""
    root = tmp_path_factory.mktemp("static")
    with override_settings(STATIC_ROOT=root, STORAGES=site.STORAGES):
        call_command("collectstatic", interactive=False, verbosity=0)
    return root


@pytest.fixture
def collected(settings, static_root) -> Path:
    """Serving what collectstatic wrote, as production does (DEBUG off)."""
    settings.STATIC_ROOT = static_root
    settings.STORAGES = site.STORAGES
    del settings.SERVESTATIC_USE_FINDERS
    settings.DEBUG = False
    return static_root


def fetch(url: str, encoding: str | None):
    headers = {"Accept-Encoding": encoding} if encoding else {}
    # A new client builds the middleware chain with this test's settings.
    response = async_to_sync(AsyncClient().get)(url, headers=headers)
    body = b"".join(async_to_sync(_read)(response))
    return response, body


async def _read(response) -> list[bytes]:
    return [chunk async for chunk in response.streaming_content]


def collected_file(root: Path, url: str) -> bytes:
    """The file collectstatic wrote for `url` (hashed copies have their url()s rewritten)."""
    return (root / url.removeprefix("/static/")).read_bytes()


@pytest.mark.django_db
def test_chat_page_assets_are_hashed_compressed_and_cached_forever(collected, make_user, client_for):
    page = client_for(make_user()).get(selectors.public_room().get_absolute_url())
    assert page.status_code == 200
    assets = ASSET.findall(page.content.decode())
    assert len(assets) >= 4, assets  # the stylesheet, htmx, its ws extension, the site's scripts
    for url in assets:
        assert re.search(r"\.[0-9a-f]{12}\.\w+$", url), f"{url} has no content hash"
        plain = collected_file(collected, url)
        for encoding, decompress in (("br", brotli.decompress), ("gzip", gzip.decompress)):
            response, body = fetch(url, f"{encoding}, deflate")
            assert response.status_code == 200, url
            assert response["Content-Encoding"] == encoding, url
            assert response["Cache-Control"] == FOREVER, url
            assert "Accept-Encoding" in response["Vary"], url
            assert decompress(body) == plain, url
        response, body = fetch(url, None)
        assert "Content-Encoding" not in response and body == plain


@pytest.mark.django_db
def test_unhashed_names_are_not_cached_forever(collected):
    """Whoever asks for the name without its hash gets the current file, briefly cached."""
    response, body = fetch("/static/css/app.css", "br")
    assert response.status_code == 200
    assert response["Cache-Control"] == "max-age=60, public"
    assert brotli.decompress(body) == collected_file(collected, "/static/css/app.css")
