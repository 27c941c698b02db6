"""Delivery: files reach only those who may read them, inline only when safe."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from django.core.files.storage import default_storage

from tests.uploads.samples import image_bytes, make_message_with


def test_members_get_the_file_inline_with_nosniff(group, make_user, client_for):
    room, owner, member = group
    message = make_message_with(room, owner, image_bytes(), "shot.png")

    response = client_for(member).get(message.attachment_url())
    thumb = client_for(member).get(message.attachment_url(thumbnail=True))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("inline")
    assert "sandbox" in response["Content-Security-Policy"]
    assert b"".join(response.streaming_content) == default_storage.open(message.attachment.name).read()
    assert thumb.status_code == 200 and thumb["X-Content-Type-Options"] == "nosniff"
    assert message.attachment_url() != message.attachment_url(thumbnail=True)


def test_documents_download_with_their_original_name(group, client_for):
    room, owner, member = group
    message = make_message_with(room, owner, b"%PDF-1.7\n%%EOF\n", "Order #12 receipt.pdf")

    response = client_for(member).get(message.attachment_url())

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment")
    assert "Order #12 receipt.pdf" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert client_for(member).get(message.attachment_url(thumbnail=True)).status_code == 200


def test_non_members_and_strangers_cannot_fetch_files(group, make_user, client_for):
    room, owner, _ = group
    message = make_message_with(room, owner, image_bytes(), "private.png")
    outsider = make_user("outsider")

    assert client_for(outsider).get(message.attachment_url()).status_code == 404
    assert client_for(outsider).get(message.attachment_url(thumbnail=True)).status_code == 404
    anonymous = client_for(None).get(message.attachment_url())
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    assert client_for(outsider).get("/files/message/999999/").status_code == 404


def test_attachment_template_links_through_the_guarded_urls(group):
    from django.template.loader import render_to_string

    room, owner, _ = group
    image = make_message_with(room, owner, image_bytes(), "<img src=x onerror=alert(1)>.png")
    document = make_message_with(room, owner, b"hello", "notes.txt")

    image_html = render_to_string("rooms/attachment.html", {"message": image})
    document_html = render_to_string("rooms/attachment.html", {"message": document})

    assert f'src="/files/message/{image.pk}/thumb/"' in image_html
    assert f'href="/files/message/{image.pk}/"' in image_html
    assert "&lt;img src=x onerror=alert(1)&gt;.png" in image_html and "onerror=alert(1)>" not in image_html
    assert f'href="/files/message/{document.pk}/"' in document_html and "notes.txt" in document_html
    assert "/media/" not in image_html + document_html


def test_cloudinary_download_url_expires_after_the_ttl_and_keeps_the_name(
    cloudinary_requests, group, client_for, settings
):
    import time

    room, owner, member = group
    settings.UPLOAD_URL_TTL_SECONDS = 120
    document = make_message_with(room, owner, b"%PDF-1.7\n%%EOF\n", "Order #12 receipt.pdf")
    image = make_message_with(room, owner, image_bytes(), "shot.png")

    requested_at = time.time()
    response = client_for(member).get(document.attachment_url())
    inline = client_for(member).get(image.attachment_url())

    query = parse_qs(urlsplit(response["Location"]).query)
    assert abs(int(query["expires_at"][0]) - (requested_at + 120)) <= 5
    assert query["attachment"] == ["Order #12 receipt.pdf"]
    assert "attachment" not in parse_qs(urlsplit(inline["Location"]).query)  # images open in the page
    assert not [call for call in cloudinary_requests if "download" in call["url"]]  # signed locally, no API call
