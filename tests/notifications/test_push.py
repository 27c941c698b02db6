"""Web Push, tested at its HTTP boundary: the encrypted POST to the browser's
push service (intercepted with `responses`), and the subscription endpoints."""

from __future__ import annotations

import base64
import json
import os
from datetime import timedelta

import http_ece
import pytest
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.utils import timezone

from notifications.models import PushSubscription
from notifications.services import notifications_send_due
from rooms import services

pytestmark = pytest.mark.django_db

ENDPOINT = "https://push.example.test/send/abc123"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_raw(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


@pytest.fixture
def vapid(settings):
    server_key = ec.generate_private_key(ec.SECP256R1())
    settings.WEBPUSH_VAPID_PRIVATE_KEY = b64(server_key.private_numbers().private_value.to_bytes(32, "big"))
    settings.WEBPUSH_VAPID_PUBLIC_KEY = b64(public_raw(server_key))
    settings.SITE_URL = "https://boostroom.example"


@pytest.fixture
def browser(make_user, vapid):
    """alice's browser: its key pair and auth secret, subscribed as the Push API would."""
    alice = make_user("alice")
    key, auth = ec.generate_private_key(ec.SECP256R1()), os.urandom(16)
    PushSubscription.objects.create(user=alice, endpoint=ENDPOINT, p256dh=b64(public_raw(key)), auth=b64(auth))
    return alice, key, auth


def soon():
    return timezone.now() + timedelta(seconds=30)


@responses.activate
def test_an_offline_user_gets_one_encrypted_push_per_new_message(browser, make_user):
    alice, key, auth = browser
    bob = make_user("bob")
    room = services.room_get_or_create_private(user=bob, other=alice)
    message = services.message_post(room=room, author=bob, body="psst, you there?")
    responses.add(responses.POST, ENDPOINT, status=201)

    assert notifications_send_due(now=soon()).pushes == 1
    assert notifications_send_due(now=soon()).pushes == 0

    (call,) = responses.calls
    headers = call.request.headers
    assert headers["Content-Encoding"] == "aes128gcm"
    assert headers["Authorization"].startswith("vapid t=")
    assert headers["TTL"] == "3600"
    assert b"psst" not in call.request.body
    payload = json.loads(http_ece.decrypt(call.request.body, private_key=key, auth_secret=auth, version="aes128gcm"))
    assert payload["title"] == f"bob · {room.display_title}"
    assert payload["body"] == "psst, you there?"
    assert payload["url"] == f"https://boostroom.example/chat/{room.name}/#message-{message.pk}"


@responses.activate
def test_a_subscription_the_push_service_calls_gone_is_forgotten(browser, make_user):
    alice, _, _ = browser
    bob = make_user("bob")
    room = services.room_get_or_create_private(user=bob, other=alice)
    services.message_post(room=room, author=bob, body="hello?")
    responses.add(responses.POST, ENDPOINT, status=410)
    assert notifications_send_due(now=soon()).pushes == 0
    assert not PushSubscription.objects.exists()


@responses.activate
def test_no_push_without_vapid_keys_or_for_read_messages(browser, make_user, settings):
    alice, _, _ = browser
    bob = make_user("bob")
    room = services.room_get_or_create_private(user=bob, other=alice)
    message = services.message_post(room=room, author=bob, body="hello?")
    key, settings.WEBPUSH_VAPID_PRIVATE_KEY = settings.WEBPUSH_VAPID_PRIVATE_KEY, ""
    assert notifications_send_due(now=soon()).pushes == 0
    settings.WEBPUSH_VAPID_PRIVATE_KEY = key
    services.room_mark_read(room=room, user=alice, through=message.pk)
    assert notifications_send_due(now=soon()).pushes == 0
    assert len(responses.calls) == 0


def test_the_browser_subscribes_and_unsubscribes(client_for, make_user):
    alice = make_user("alice")
    client = client_for(alice)
    body = {"endpoint": ENDPOINT, "keys": {"p256dh": "BPub", "auth": "secret"}}
    response = client.post("/notifications/push/subscribe/", json.dumps(body), content_type="application/json")
    assert response.status_code == 201
    assert PushSubscription.objects.get().user == alice
    response = client.post(
        "/notifications/push/unsubscribe/", json.dumps({"endpoint": ENDPOINT}), content_type="application/json"
    )
    assert response.json() == {"removed": True}
    assert not PushSubscription.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"endpoint": "http://insecure.example/x", "keys": {"p256dh": "a", "auth": "b"}},
        {"endpoint": ENDPOINT, "keys": {"p256dh": "a"}},
        {"endpoint": ENDPOINT, "keys": "nope"},
        [1, 2],
    ],
)
def test_a_bad_subscription_is_refused_and_stores_nothing(client_for, make_user, body):
    client = client_for(make_user())
    response = client.post("/notifications/push/subscribe/", json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert "https endpoint" in response.json()["error"]
    assert not PushSubscription.objects.exists()
