"""Pages, fragments and JSON go out gzipped to browsers that ask (static files
come compressed from ServeStatic); files go out as they are."""

from __future__ import annotations

import gzip
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from rooms import selectors, services
from uploads.validation import validate_upload


@pytest.mark.django_db
def test_pages_fragments_and_json_are_gzipped_for_browsers_that_ask(make_user, client_for):
    """Lighthouse's "text compression" counts the page itself, not only its assets."""
    user = make_user()
    client = client_for(user)
    url = selectors.public_room().get_absolute_url()
    plain = client.get(url)
    assert "Content-Encoding" not in plain
    page = client.get(url, HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert page.status_code == 200 and page["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in page["Vary"]
    html = gzip.decompress(page.content).decode()
    assert 'id="composer-body"' in html and len(page.content) < len(plain.content) / 2
    for number in range(5):
        services.message_post(room=selectors.public_room(), author=user, body=f"message number {number}")
    api = client.get("/api/chat/messages/", HTTP_ACCEPT_ENCODING="gzip")
    assert api["Content-Encoding"] == "gzip" and gzip.decompress(api.content).startswith(b"{")


@pytest.mark.django_db
def test_files_go_out_as_they_are(make_user, client_for, settings, tmp_path):
    """An uploaded image streams with its length; compressing it again would only cost CPU."""
    settings.MEDIA_ROOT = tmp_path
    user = make_user()
    png = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 200, 30)).save(png, format="PNG")
    upload = SimpleUploadedFile("dot.png", png.getvalue(), content_type="image/png")
    message = services.message_post(
        room=selectors.public_room(), author=user, body="", attachment=validate_upload(upload)
    )
    response = client_for(user).get(message.attachment_url(), HTTP_ACCEPT_ENCODING="gzip")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert "Content-Encoding" not in response
