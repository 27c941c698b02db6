"""Malformed frames never crash the chat socket or store anything invalid."""

import asyncio
import json

import pytest
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.asgi import application
from realtime.fanout import reset_hubs
from rooms.models import Message, RoomChange
from tests.conftest import session_headers

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
chat_frames = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["message", "typing", "resume", "edit", "delete", "react", "bogus", ""])
        | st.text(max_size=10),
        "body": st.text(max_size=2100) | json_values,
        "client_id": st.text(max_size=70) | json_values,
        "after": st.integers(min_value=-5, max_value=10**12) | json_values,
        "seq": st.integers(min_value=-5, max_value=2**64) | json_values,
        # Small ids often name a message the run posted, so edits and deletes really happen.
        "message": st.integers(min_value=1, max_value=30) | st.integers(min_value=-5, max_value=2**64) | json_values,
        "reply_to": st.integers(min_value=1, max_value=30) | st.text(max_size=20) | json_values,
        "emoji": st.sampled_from(["👍", "❤️", "x", ""]) | json_values,
        "on": st.booleans() | st.sampled_from(["true", "false", "yes"]) | json_values,
        "HEADERS": json_values,
    },
)
text_frames = st.one_of(
    chat_frames.map(json.dumps),
    json_values.map(json.dumps),
    st.text(max_size=300),
    st.binary(max_size=100).map(lambda b: b.decode("latin-1")),
    # Around the 64 KB frame limit, in characters and in UTF-8 bytes.
    st.integers(min_value=64 * 1024 - 64, max_value=64 * 1024 + 64).map(lambda n: json.dumps({"body": "x" * n})),
    st.integers(min_value=21_800, max_value=22_000).map(lambda n: json.dumps({"body": "€" * n}, ensure_ascii=False)),
)
raw_frames = st.one_of(
    text_frames.map(lambda text: {"text": text}),
    st.binary(max_size=200).map(lambda data: {"bytes": data}),
)

DOCUMENTED_CLOSE_CODES = {4001, 4002, 4003, 4004, 4008}


async def exercise(headers, frames: list[dict]) -> None:
    reset_hubs()
    channel_layers.backends.clear()
    socket = WebsocketCommunicator(application, "/ws/chatroom/public-chat/", headers=headers)
    connected, _ = await socket.connect()
    assert connected
    for frame in frames:
        await socket.send_input({"type": "websocket.receive", **frame})
        # Drain whatever came back; a close must carry a documented code.
        while not await socket.receive_nothing(timeout=0.05):
            output = await socket.receive_output()
            if output["type"] == "websocket.close":
                assert output.get("code") in DOCUMENTED_CLOSE_CODES
                await socket.disconnect()
                return
    await socket.send_to(text_data=json.dumps({"body": "canary", "client_id": None}))
    # Answers to the fuzz frames may still be on their way on a loaded machine:
    # read on until the canary comes back (or the wait ends, failing).
    frames_back = []
    while not any("canary" in frame for frame in frames_back) and len(frames_back) < 20:
        frames_back.append(await socket.receive_from(timeout=10))
    assert any("canary" in frame for frame in frames_back), "socket unusable after fuzzing"
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
def test_chat_socket_survives_malformed_frames(make_user):
    headers = session_headers(make_user())

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(raw_frames, min_size=1, max_size=8))
    def run(frames):
        asyncio.run(exercise(headers, frames))
        for body, deleted in Message.objects.values_list("body", "deleted_at"):
            # A tombstone keeps no body; every other message a trimmed 1..2000.
            assert body == "" if deleted else body == body.strip() and 1 <= len(body) <= 2000
        seqs = list(RoomChange.objects.order_by("seq").values_list("seq", flat=True))
        assert seqs == list(range(1, len(seqs) + 1))

    run()
