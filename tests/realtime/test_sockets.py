import pytest

from tests.conftest import expect_close

pytestmark = pytest.mark.django_db(transaction=True)


async def test_session_cookie_authenticates_the_socket(socket_for, make_user):
    from channels.db import database_sync_to_async

    admin = await database_sync_to_async(make_user)(role="admin")
    socket = await socket_for("/ws/realtime/ping/", admin)
    connected, _ = await socket.connect()
    assert connected
    await socket.send_to(text_data='{"type": "ping"}')
    frame = await socket.receive_from(timeout=3)
    assert 'id="layer-rtt"' in frame and "ms through the channel layer" in frame
    await socket.disconnect()


async def test_anonymous_socket_is_closed_with_4001(socket_for):
    await expect_close(await socket_for("/ws/realtime/ping/"), 4001)


async def test_non_staff_ping_socket_is_closed_with_4004(socket_for, make_user):
    from channels.db import database_sync_to_async

    user = await database_sync_to_async(make_user)()
    await expect_close(await socket_for("/ws/realtime/ping/", user), 4004)


async def test_foreign_origin_is_refused(socket_for, make_user):
    from channels.db import database_sync_to_async

    admin = await database_sync_to_async(make_user)(role="admin")
    socket = await socket_for("/ws/realtime/ping/", admin, origin="https://evil.example")
    connected, _ = await socket.connect()
    assert not connected
