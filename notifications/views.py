"""The browser's Web Push subscription (static/js/boostroom.js posts it here)."""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_POST

from notifications import services


def _payload(request: HttpRequest) -> dict | None:
    try:
        payload = json.loads(request.body or b"{}")
    except (ValueError, RecursionError):
        return None
    return payload if isinstance(payload, dict) else None


@login_required
@require_POST
def push_subscribe(request: HttpRequest) -> JsonResponse:
    payload = _payload(request)
    keys = payload.get("keys") if payload else None
    try:
        services.push_subscribe(
            user=request.user,
            endpoint=payload.get("endpoint") if payload else None,
            p256dh=keys.get("p256dh") if isinstance(keys, dict) else None,
            auth=keys.get("auth") if isinstance(keys, dict) else None,
        )
    except services.PushError as error:
        return JsonResponse({"error": str(error)}, status=400)
    return JsonResponse({"subscribed": True}, status=201)


@login_required
@require_POST
def push_unsubscribe(request: HttpRequest) -> JsonResponse:
    payload = _payload(request) or {}
    endpoint = payload.get("endpoint")
    removed = services.push_unsubscribe(user=request.user, endpoint=endpoint if isinstance(endpoint, str) else "")
    return JsonResponse({"removed": removed})
