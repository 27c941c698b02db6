"""A change made in another process (`manage.py shell`, a worker, a second
server) reaches this process's order sockets through the Redis channel layer.

These run in the CI pass that sets REDIS_URL (the in-memory layer cannot cross
processes) with PostgreSQL: the other process opens pytest-django's test
database by name, which an in-memory SQLite test database does not allow.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from channels.db import database_sync_to_async
from django.db import connection

from tests.orders.conftest import Status

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.redis,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="runs in the CI pass with REDIS_URL"),
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
        reason="the other process opens the test database by name (PostgreSQL; CI's pass with REDIS_URL)",
    ),
    pytest.mark.django_db(transaction=True),
]

db = database_sync_to_async

SHELL_PROGRESS = """
from django.contrib.auth.models import User
from orders import services
from orders.models import Order
order = Order.objects.get(pk={pk})
services.order_progress_update(
    order=order, booster=User.objects.get(pk={booster}), reached_rank="silver", reached_division=1, reached_points=50
)
print("changed in process", __import__("os").getpid())
"""


def this_tests_database_url() -> str:
    """DATABASE_URL pointed at the database this test runs in (pytest-django's `test_<name>`)."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path=f"/{connection.settings_dict['NAME']}"))


async def test_a_shell_change_in_another_process_reaches_the_sockets(socket_for, people, order_in, settings):
    order = await db(order_in)(Status.IN_PROGRESS)
    page = await socket_for(f"/ws/orders/{order.pk}/", people["customer"])
    dashboard = await socket_for("/ws/orders/", people["manager"])
    for socket in (page, dashboard):
        assert (await socket.connect())[0]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": await db(this_tests_database_url)(),
        # The same channel-layer namespace as this test (tests/conftest.py isolated_realtime).
        "REDIS_PREFIX": settings.REDIS_PREFIX,
        "LOG_LEVEL": "WARNING",
    }
    code = SHELL_PROGRESS.format(pk=order.pk, booster=people["booster"].pk)
    # Async, so this process keeps receiving from Redis while the shell runs.
    shell = await asyncio.create_subprocess_exec(
        sys.executable,
        "manage.py",
        "shell",
        "-c",
        code,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(shell.communicate(), timeout=90)
    assert shell.returncode == 0, err.decode()[-3000:]
    assert f"changed in process {shell.pid}" in out.decode() and shell.pid != os.getpid()

    frame = await page.receive_from(timeout=10)
    assert f'id="order-{order.pk}"' in frame and 'style="width: 75%"' in frame
    assert 'data-audience="customer"' in frame and "Reached Silver I 50 LP" in frame
    staff_card = await dashboard.receive_from(timeout=10)
    assert f'hx-swap-oob="outerHTML:#all-orders #order-{order.pk}"' in staff_card and "75%" in staff_card
    for socket in (page, dashboard):
        await socket.disconnect()
