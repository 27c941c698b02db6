"""Project-level pages: the landing page, health check and realtime test."""

from __future__ import annotations

import asyncio
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

LAYER_TIMEOUT_SECONDS = 2.0


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")


async def _layer_roundtrip() -> None:
    layer = get_channel_layer()
    channel = await layer.new_channel("healthz")
    await layer.send(channel, {"type": "healthz.ping"})
    await asyncio.wait_for(layer.receive(channel), LAYER_TIMEOUT_SECONDS)


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:
        return False


def _layer_ok() -> bool:
    try:
        async_to_sync(_layer_roundtrip)()
        return True
    except Exception:
        return False


def _redis_ok() -> bool | None:
    if not settings.REDIS_URL:
        return None
    import redis

    try:
        return bool(redis.Redis.from_url(settings.REDIS_URL, socket_timeout=LAYER_TIMEOUT_SECONDS).ping())
    except Exception:
        return False


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _database_ok(), "channel_layer": _layer_ok()}
    status = 200 if all(checks.values()) else 503
    return JsonResponse({"status": "ok" if status == 200 else "unavailable", **checks}, status=status)


@staff_member_required
def realtime_test(request: HttpRequest) -> HttpResponse:
    layer = get_channel_layer()
    context = {
        "layer_backend": f"{type(layer).__module__}.{type(layer).__name__}",
        "redis_configured": bool(settings.REDIS_URL),
        "redis_ok": _redis_ok(),
        "layer_ok": _layer_ok(),
        "page_id": uuid.uuid4().hex,
    }
    return render(request, "realtime_test.html", context)
