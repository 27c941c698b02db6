"""NUL characters in a message body get the same clear error on every path (the
socket, the JSON API, the HTML form), and nothing is stored, on SQLite and
PostgreSQL alike."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async
from django.utils.html import escape

from rooms import services
from rooms.models import Message

BODY = "hello\x00world"


@pytest.mark.django_db
def test_the_service_refuses_nul(public_room, make_user):
    with pytest.raises(services.ChatError, match="NUL"):
        services.message_post(room=public_room, author=make_user(), body=BODY)
    assert Message.objects.count() == 0


@pytest.mark.django_db
def test_the_json_api_refuses_nul(public_room, make_user, client_for):
    response = client_for(make_user()).post(
        "/api/chat/messages/", json.dumps({"body": BODY}), content_type="application/json"
    )
    assert response.status_code == 400 and response.json() == {"error": services.MESSAGE_NUL}
    assert Message.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("htmx", [True, False])
def test_the_html_form_refuses_nul_with_the_same_error(public_room, make_user, client_for, htmx):
    client = client_for(make_user())
    headers = {"HX-Request": "true"} if htmx else {}
    response = client.post("/chat/public-chat/messages/", {"body": BODY}, headers=headers, follow=not htmx)
    assert escape(services.MESSAGE_NUL) in response.content.decode()
    assert Message.objects.count() == 0


@pytest.mark.django_db(transaction=True)
async def test_the_socket_refuses_nul_with_the_same_error(socket_for, make_user):
    user = await database_sync_to_async(make_user)()
    socket = await socket_for("/ws/chatroom/public-chat/", user)
    assert (await socket.connect())[0]
    await socket.send_to(text_data=json.dumps({"body": BODY, "client_id": "nul-1"}))
    reply = await socket.receive_from(timeout=3)
    assert 'id="chat-error"' in reply and escape(services.MESSAGE_NUL) in reply
    assert await database_sync_to_async(Message.objects.count)() == 0
    await socket.disconnect()
