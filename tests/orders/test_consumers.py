"""Order sockets through the real ASGI stack: who may listen, what each audience
receives, and that pushes leave only after commit."""

from __future__ import annotations

import asyncio
import io
import json
import threading
from datetime import datetime

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from PIL import Image

from orders import broadcasts, services
from orders.models import Order
from tests.conftest import expect_close
from tests.orders.conftest import Status, reach_goal
from uploads.validation import validate_upload

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async
# The fields of seed 001's event.
SEED_FIELDS = {
    "type",
    "order_id",
    "status",
    "progress",
    "booster_price",
    "actual_price",
    "booster_id",
    "booster_username",
    "reached_rank",
    "reached_division",
    "reached_marks",
    "message",
    "timestamp",
}
CONTROL_URLS = ("/claim/", "/assign/", "/status/", "/progress/", "/complete/")


async def connected(socket_for, path: str, user):
    socket = await socket_for(path, user)
    ok, _ = await socket.connect()
    assert ok
    return socket


async def frames(socket, count: int) -> list[str]:
    return [await socket.receive_from(timeout=3) for _ in range(count)]


async def report_progress(order: Order, booster, lp: int = 50) -> Order:
    return await db(services.order_progress_update)(
        order=order, booster=booster, reached_rank="silver", reached_division=1, reached_points=lp
    )


# WHO MAY LISTEN


async def test_anonymous_sockets_get_4001(socket_for, order_in):
    order = await db(order_in)()
    await expect_close(await socket_for(f"/ws/orders/{order.pk}/"), 4001)
    await expect_close(await socket_for("/ws/orders/"), 4001)


@pytest.mark.parametrize(
    "viewer, status, allowed",
    [
        ("customer", Status.IN_PROGRESS, True),
        ("booster", Status.IN_PROGRESS, True),
        ("manager", Status.IN_PROGRESS, True),
        ("admin", Status.IN_PROGRESS, True),
        ("other_customer", Status.IN_PROGRESS, False),
        ("other_booster", Status.IN_PROGRESS, False),
        ("other_booster", Status.PENDING, True),  # on the claim list
        ("other_customer", Status.PENDING, False),
    ],
)
async def test_order_socket_permissions(socket_for, people, order_in, viewer, status, allowed):
    order = await db(order_in)(status)
    socket = await socket_for(f"/ws/orders/{order.pk}/", people[viewer])
    if allowed:
        ok, _ = await socket.connect()
        assert ok
        assert await socket.receive_nothing(timeout=0.1)
        await socket.disconnect()
    else:
        await expect_close(socket, 4004)


async def test_nonexistent_order_gets_4004(socket_for, people):
    await expect_close(await socket_for("/ws/orders/424242/", people["manager"]), 4004)


# WHAT EACH AUDIENCE GETS


async def test_progress_reaches_every_audience_with_its_own_card(socket_for, people, order_in):
    order = await db(order_in)(Status.IN_PROGRESS)
    page = f"/ws/orders/{order.pk}/"
    customer_page = await connected(socket_for, page, people["customer"])
    customer_dashboard = await connected(socket_for, "/ws/orders/", people["customer"])
    booster_page = await connected(socket_for, page, people["booster"])
    staff_dashboard = await connected(socket_for, "/ws/orders/", people["manager"])
    stranger_dashboard = await connected(socket_for, "/ws/orders/", people["other_customer"])

    await report_progress(order, people["booster"])

    customer_frame = await customer_page.receive_from(timeout=3)
    assert f'<article hx-swap-oob="true" id="order-{order.pk}"' in customer_frame
    assert 'style="width: 75%"' in customer_frame and 'data-audience="customer"' in customer_frame
    assert "data-action" not in customer_frame
    assert not any(url in customer_frame for url in CONTROL_URLS)
    assert "11.20" not in customer_frame  # the booster's cut is not the customer's business
    assert 'id="order-timeline" hx-swap-oob="true"' in customer_frame and "Reached Silver I 50 LP" in customer_frame

    dashboard_frame = await customer_dashboard.receive_from(timeout=3)
    assert f'hx-swap-oob="outerHTML:#my-orders #order-{order.pk}" data-upsert-into="#my-orders"' in dashboard_frame
    assert 'style="width: 75%"' in dashboard_frame and "data-action" not in dashboard_frame

    booster_frame = await booster_page.receive_from(timeout=3)
    assert 'data-audience="booster"' in booster_frame and 'data-action="progress"' in booster_frame
    assert '<option value="silver" selected>Silver</option>' in booster_frame
    assert '<option value="1" selected>I</option>' in booster_frame
    assert 'data-action="assign"' not in booster_frame and "16.00" not in booster_frame

    staff_frame = await staff_dashboard.receive_from(timeout=3)
    assert f'hx-swap-oob="outerHTML:#all-orders #order-{order.pk}"' in staff_frame
    assert 'data-action="assign"' in staff_frame and 'data-action="pause"' in staff_frame

    assert await stranger_dashboard.receive_nothing(timeout=0.2)
    for socket in (customer_page, customer_dashboard, booster_page, staff_dashboard, stranger_dashboard):
        await socket.disconnect()


async def test_a_change_reaches_dashboards_while_the_sockets_database_thread_is_busy(socket_for, people, order_in):
    order = await db(order_in)(Status.IN_PROGRESS)
    staff_dashboard = await connected(socket_for, "/ws/orders/", people["manager"])
    release = threading.Event()
    # The thread every socket's database work shares, held as a slow query would hold it.
    busy = asyncio.create_task(db(release.wait)(10))
    try:
        # The change comes from elsewhere, as a request's would.
        await sync_to_async(services.order_progress_update, thread_sensitive=False)(
            order=order, booster=people["booster"], reached_rank="silver", reached_division=1, reached_points=50
        )
        staff_frame = await staff_dashboard.receive_from(timeout=3)
        assert f'id="order-{order.pk}"' in staff_frame and 'style="width: 75%"' in staff_frame
        assert not busy.done()
    finally:
        release.set()
        await busy
    await staff_dashboard.disconnect()


async def test_cards_are_rendered_once_per_audience_not_once_per_socket(socket_for, people, order_in, monkeypatch):
    order = await db(order_in)(Status.IN_PROGRESS)
    renders: list[str] = []
    real = broadcasts.render_card_body

    def counting(order, audience, **kwargs):
        renders.append(audience)
        return real(order, audience, **kwargs)

    monkeypatch.setattr(broadcasts, "render_card_body", counting)
    page = f"/ws/orders/{order.pk}/"
    viewers = [
        *[("customer", path) for path in (page, page, "/ws/orders/", "/ws/orders/")],
        *[("booster", path) for path in (page, "/ws/orders/", "/ws/orders/")],
        *[(staff, path) for staff in ("manager", "admin") for path in (page, "/ws/orders/")],
    ]
    sockets = [await connected(socket_for, path, people[viewer]) for viewer, path in viewers]

    await report_progress(order, people["booster"])

    for (viewer, _path), socket in zip(viewers, sockets, strict=True):
        frame = await socket.receive_from(timeout=3)
        assert 'style="width: 75%"' in frame, viewer
    assert sorted(renders) == ["booster", "customer", "staff"], f"{len(sockets)} sockets, renders: {renders}"
    for socket in sockets:
        await socket.disconnect()


async def test_only_audiences_with_a_socket_in_this_process_are_rendered(socket_for, people, order_in, monkeypatch):
    order = await db(order_in)(Status.IN_PROGRESS)
    renders: list[str] = []
    timelines: list[int] = []
    real_body, real_timeline = broadcasts.render_card_body, broadcasts.render_timeline

    def counting_body(order, audience, **kwargs):
        renders.append(audience)
        return real_body(order, audience, **kwargs)

    def counting_timeline(order, **kwargs):
        timelines.append(order.pk)
        return real_timeline(order, **kwargs)

    monkeypatch.setattr(broadcasts, "render_card_body", counting_body)
    monkeypatch.setattr(broadcasts, "render_timeline", counting_timeline)
    staff_dashboard = await connected(socket_for, "/ws/orders/", people["manager"])

    await report_progress(order, people["booster"])
    assert 'style="width: 75%"' in await staff_dashboard.receive_from(timeout=3)
    # Nobody here has the customer's or booster's dashboard, or the order page, open.
    assert (renders, timelines) == (["staff"], [])

    page = await connected(socket_for, f"/ws/orders/{order.pk}/", people["customer"])
    renders.clear()
    await report_progress(order, people["booster"], lp=60)
    assert "Reached Silver I 60 LP" in await page.receive_from(timeout=3)
    assert "60 LP" in await staff_dashboard.receive_from(timeout=3)
    # An open order page may hold any audience: each is rendered, still once.
    assert sorted(renders) == ["booster", "customer", "staff"] and timelines == [order.pk]
    for socket in (staff_dashboard, page):
        await socket.disconnect()


async def test_new_orders_appear_on_every_claim_list_and_leave_when_claimed(socket_for, people, order_in):
    winner = await connected(socket_for, "/ws/orders/", people["booster"])
    loser = await connected(socket_for, "/ws/orders/", people["other_booster"])

    order = await db(order_in)()
    for socket in (winner, loser):
        frame = await socket.receive_from(timeout=3)
        assert f'hx-swap-oob="outerHTML:#claimable-orders #order-{order.pk}"' in frame
        assert 'data-upsert-into="#claimable-orders"' in frame and 'data-action="claim"' in frame

    await db(services.order_claim)(order=order, booster=people["booster"])
    removal = f'hx-swap-oob="delete:#claimable-orders #order-{order.pk}"'
    assert removal in await loser.receive_from(timeout=3)
    assert await loser.receive_nothing(timeout=0.2)
    received = await frames(winner, 2)
    assert any(removal in frame for frame in received)
    mine = next(frame for frame in received if "#my-orders" in frame)
    assert 'data-upsert-into="#my-orders"' in mine and 'data-action="start"' in mine
    await winner.disconnect()
    await loser.disconnect()


async def test_claim_page_socket_follows_the_claim(socket_for, people, order_in):
    order = await db(order_in)()
    page = f"/ws/orders/{order.pk}/"
    claimer = await connected(socket_for, page, people["booster"])
    onlooker = await connected(socket_for, page, people["other_booster"])

    await db(services.order_claim)(order=order, booster=people["booster"])

    # The claimer now follows it as its booster...
    claimed = await claimer.receive_from(timeout=3)
    assert 'data-audience="booster"' in claimed and 'data-action="start"' in claimed
    # ...everyone else is told it is gone and loses the socket.
    gone = await onlooker.receive_from(timeout=3)
    assert 'id="order-notice"' in gone and "data-action" not in gone
    assert await onlooker.receive_output(timeout=3) == {"type": "websocket.close", "code": 4004}

    # ...and keeps receiving it as the booster.
    await report_progress(order, people["booster"])
    assert 'data-action="progress"' in await claimer.receive_from(timeout=3)
    await claimer.disconnect()


async def test_the_order_pages_chat_list_gets_the_boosters_room_live(socket_for, client_for, people, order_in):
    order = await db(order_in)()
    booster_room = f"/chat/order-{order.pk}-booster/"
    page = await db(lambda: client_for(people["booster"]).get(f"/orders/{order.pk}/").content.decode())()
    assert '<section id="order-chats"' in page and booster_room not in page  # there, hidden, for the swap
    customer = await connected(socket_for, f"/ws/orders/{order.pk}/", people["customer"])
    claimer = await connected(socket_for, f"/ws/orders/{order.pk}/", people["booster"])

    await db(services.order_claim)(order=order, booster=people["booster"])

    customer_frame = await customer.receive_from(timeout=3)
    assert '<section id="order-chats" hx-swap-oob="true"' in customer_frame
    assert booster_room in customer_frame and f"/chat/order-{order.pk}-staff/" in customer_frame
    claimer_frame = await claimer.receive_from(timeout=3)
    chats = claimer_frame.split('<section id="order-chats"', 1)[1]
    assert booster_room in chats and "-staff/" not in chats
    for socket in (customer, claimer):
        await socket.disconnect()


async def test_reassignment_takes_the_order_and_its_controls_from_the_previous_booster(socket_for, people, order_in):
    order = await db(order_in)(Status.IN_PROGRESS)
    page = await connected(socket_for, f"/ws/orders/{order.pk}/", people["booster"])
    dashboard = await connected(socket_for, "/ws/orders/", people["booster"])
    await db(services.order_assign)(order=order, booster=people["other_booster"], by=people["manager"])

    frame = await page.receive_from(timeout=3)
    assert 'id="order-notice" hx-swap-oob="true"' in frame and broadcasts.ORDER_GONE in frame
    # The card and the proof form are replaced: no control of the order is left on the page.
    assert '<div id="order-main" hx-swap-oob="true"' in frame
    assert "data-action" not in frame and "<form" not in frame and f"/orders/{order.pk}/" not in frame
    assert people["other_booster"].username not in frame
    assert '<section id="order-chats" hx-swap-oob="true"' in frame and "/chat/" not in frame
    assert await page.receive_output(timeout=3) == {"type": "websocket.close", "code": 4004}

    assert f'hx-swap-oob="delete:#my-orders #order-{order.pk}"' in await dashboard.receive_from(timeout=3)
    assert await dashboard.receive_nothing(timeout=0.2)
    await dashboard.disconnect()


async def test_completion_pushes_the_payout(socket_for, people, order_in):
    order = await db(order_in)(Status.IN_PROGRESS)
    await db(reach_goal)(order, people["booster"])
    dashboard = await connected(socket_for, "/ws/orders/", people["booster"])
    await db(services.order_complete)(order=order, by=people["booster"])
    frame = await dashboard.receive_from(timeout=3)
    assert 'id="payouts" hx-swap-oob="true"' in frame and 'data-payout-total="11.20"' in frame
    await dashboard.disconnect()


async def test_proof_appears_live_for_the_customer(socket_for, people, order_in, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    order = await db(order_in)(Status.IN_PROGRESS)
    page = await connected(socket_for, f"/ws/orders/{order.pk}/", people["customer"])
    image = io.BytesIO()
    Image.new("RGB", (40, 30), (0, 120, 0)).save(image, format="PNG")
    validated = validate_upload(SimpleUploadedFile("win.png", image.getvalue()), images_only=True)
    proof = await db(services.proof_add)(order=order, booster=people["booster"], file=validated)
    frame = await page.receive_from(timeout=3)
    assert 'id="order-proofs" hx-swap-oob="true"' in frame and proof.get_thumbnail_url() in frame
    await page.disconnect()


async def test_deleted_order_leaves_every_page(socket_for, people, order_in):
    order = await db(order_in)()
    page = await connected(socket_for, f"/ws/orders/{order.pk}/", people["customer"])
    dashboard = await connected(socket_for, "/ws/orders/", people["customer"])
    await db(lambda: Order.objects.get(pk=order.pk).delete())()
    assert 'id="order-notice"' in await page.receive_from(timeout=3)
    assert await page.receive_output(timeout=3) == {"type": "websocket.close", "code": 4004}
    assert f'hx-swap-oob="delete:#my-orders #order-{order.pk}"' in await dashboard.receive_from(timeout=3)
    await dashboard.disconnect()


# JSON


async def test_json_events_match_seed_001(socket_for, people, order_in):
    order = await db(order_in)(Status.IN_PROGRESS)
    customer = await connected(socket_for, f"/ws/orders/{order.pk}/?format=json", people["customer"])
    staff = await connected(socket_for, "/ws/orders/?format=json", people["manager"])
    booster = await connected(socket_for, "/ws/orders/?format=json", people["booster"])

    await report_progress(order, people["booster"])

    event = json.loads(await customer.receive_from(timeout=3))
    assert SEED_FIELDS <= set(event)
    assert event["type"] == "order.update" and event["order_id"] == order.pk
    assert (event["status"], event["progress"]) == ("in_progress", 75)
    assert (event["reached_rank"], event["reached_division"], event["reached_marks"]) == ("Silver", 1, 50)
    assert (event["booster_id"], event["booster_username"]) == (people["booster"].pk, people["booster"].username)
    assert (event["actual_price"], event["booster_price"]) == ("16.00", None)
    assert event["message"] == "Reached Silver I 50 LP (75%)"
    assert datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).tzinfo is not None

    staff_event = json.loads(await staff.receive_from(timeout=3))
    assert (staff_event["actual_price"], staff_event["booster_price"]) == ("16.00", "11.20")
    booster_event = json.loads(await booster.receive_from(timeout=3))
    assert (booster_event["actual_price"], booster_event["booster_price"]) == (None, "11.20")
    for socket in (customer, staff, booster):
        await socket.disconnect()


async def test_json_claim_list_says_removed_and_never_contradicts_the_winner(socket_for, people, order_in):
    winner = await connected(socket_for, "/ws/orders/?format=json", people["booster"])
    loser = await connected(socket_for, "/ws/orders/?format=json", people["other_booster"])
    order = await db(order_in)()
    for socket in (winner, loser):
        listed = json.loads(await socket.receive_from(timeout=3))
        assert (listed["type"], listed["status"], listed["booster_id"]) == ("order.update", "pending", None)

    await db(services.order_claim)(order=order, booster=people["booster"])

    # A client that keeps the latest frame per order ends with the assignment...
    mine = json.loads(await winner.receive_from(timeout=3))
    assert (mine["type"], mine["status"]) == ("order.update", "assigned")
    assert (mine["booster_id"], mine["booster_username"]) == (people["booster"].pk, people["booster"].username)
    assert await winner.receive_nothing(timeout=0.3), "nothing may follow that contradicts the assignment"
    # ...and everyone else learns it left their claim list, not that it has no booster.
    gone = json.loads(await loser.receive_from(timeout=3))
    assert gone["type"] == "order.removed" and gone["order_id"] == order.pk
    assert set(gone) == {"type", "order_id", "timestamp"}
    assert await loser.receive_nothing(timeout=0.2)
    for socket in (winner, loser):
        await socket.disconnect()


async def test_json_cancelled_order_leaves_the_claim_list_as_removed(socket_for, people, order_in):
    order = await db(order_in)()
    booster = await connected(socket_for, "/ws/orders/?format=json", people["booster"])
    customer = await connected(socket_for, "/ws/orders/?format=json", people["customer"])
    await db(services.order_cancel)(order=order, by=people["customer"])
    assert json.loads(await booster.receive_from(timeout=3))["type"] == "order.removed"
    cancelled = json.loads(await customer.receive_from(timeout=3))
    assert (cancelled["type"], cancelled["status"]) == ("order.update", "cancelled")
    for socket in (booster, customer):
        await socket.disconnect()


# AFTER COMMIT, ONLY


async def test_shell_save_pushes_after_commit_and_a_rollback_pushes_nothing(
    socket_for, people, order_in, published, django_capture_on_commit_callbacks
):
    order = await db(order_in)(Status.IN_PROGRESS)
    socket = await connected(socket_for, f"/ws/orders/{order.pk}/", people["customer"])
    dashboard = await connected(socket_for, "/ws/orders/", people["customer"])
    published.clear()

    def shell_edit(lp: int, *, fail: bool) -> int:
        """What someone in `manage.py shell` would type, inside one transaction."""
        with transaction.atomic():
            with django_capture_on_commit_callbacks() as callbacks:
                edited = Order.objects.get(pk=order.pk)
                edited.reached_points = lp
                edited.save()
                edited.save()
            assert published == [], "nothing may leave before the commit"
            if fail:
                raise RuntimeError("rolled back")
        return len([c for c in callbacks if isinstance(c, broadcasts._Push)])

    with pytest.raises(RuntimeError):
        await db(shell_edit)(30, fail=True)
    assert await socket.receive_nothing(timeout=0.3)
    assert await dashboard.receive_nothing(timeout=0.1)
    assert published == []

    assert await db(shell_edit)(40, fail=False) == 1
    frame = await socket.receive_from(timeout=3)
    assert "Silver II · 40 LP" in frame
    assert "Silver II · 40 LP" in await dashboard.receive_from(timeout=3)
    assert await socket.receive_nothing(timeout=0.2)  # once, not once per save
    await socket.disconnect()
    await dashboard.disconnect()
