"""API tokens, the health check and the staff realtime test page."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from realtime import auth, ratelimit
from realtime.aftercommit import after_commit
from realtime.consumers import CLOSE_NO_CREDENTIALS
from realtime.signals import close_user_sockets

LAYER_TIMEOUT_SECONDS = 2.0
TOKEN_RATE_LIMITED = "Too many attempts. Wait a minute and try again."


@csrf_exempt
@require_POST
def api_token(request: HttpRequest) -> JsonResponse:
    """Exchange a login (username or email) and password for a signed, expiring token."""
    try:
        data = json.loads(request.body or b"{}") if request.content_type == "application/json" else request.POST
        login, password = str(data.get("login") or data.get("username") or ""), str(data.get("password") or "")
    except (ValueError, AttributeError):
        return JsonResponse({"error": "Send JSON or form fields: login, password."}, status=400)
    limit, window = settings.API_TOKEN_RATE_LIMIT
    address = request.META.get("REMOTE_ADDR", "")
    # Counted on the login as it will be looked up: ' alice', 'alice ' and
    # 'ALICE' share one budget. Hashed, so any input makes a valid cache key.
    login_key = hashlib.sha256(auth.normalized_login(login).encode()).hexdigest()
    if not (
        ratelimit.allow(f"token:ip:{address}", limit=limit, window=window)
        and ratelimit.allow(f"token:login:{login_key}", limit=limit, window=window)
    ):
        return JsonResponse({"error": TOKEN_RATE_LIMITED}, status=429)
    user = auth.user_by_credentials(login=login, password=password)
    if user is None:
        return JsonResponse({"error": auth.CREDENTIALS_INVALID}, status=400)
    return JsonResponse(
        {"token": auth.token_issue(user=user), "expires_in": settings.API_TOKEN_MAX_AGE, "user_id": user.pk}
    )


@require_POST
def api_token_revoke(request: HttpRequest) -> JsonResponse:
    """Log out everywhere: every token so far stops working and every socket closes."""
    if not request.user.is_authenticated:
        return JsonResponse({"error": "Authentication required."}, status=401)
    auth.tokens_revoke(user=request.user)
    after_commit(close_user_sockets, request.user.pk, CLOSE_NO_CREDENTIALS)
    return JsonResponse({"revoked": True})


async def _layer_roundtrip() -> None:
    # A group send exercises the layer's storage without receiving: the process
    # hub owns this process's receive slot (channels_redis allows one at a time).
    layer = get_channel_layer()
    await asyncio.wait_for(layer.group_send("healthz", {"type": "healthz.ping"}), LAYER_TIMEOUT_SECONDS)


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
