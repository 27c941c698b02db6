"""Signed, expiring API tokens, and who is asking on every socket.

Browsers authenticate sockets with the session cookie and must send an allowed
Origin (against cross-site WebSocket hijacking). API clients send `?token=`;
cookies are then ignored, and a socket with no Origin is accepted only that way.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlparse

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.security.websocket import AllowedHostsOriginValidator, WebsocketDenier
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core import signing
from django.db.models import Q

from realtime.consumers import CLOSE_TOKEN_INVALID, CLOSE_USER_INVALID, FanoutConsumer
from realtime.logging import socket_url
from realtime.models import TokenRevocation

logger = logging.getLogger("boostroom.realtime")

TOKEN_SALT = "boostroom.api-token"
TOKEN_MAX_CHARS = 512
CREDENTIALS_INVALID = "Unknown login or wrong password."


class TokenError(Exception):
    def __init__(self, close_code: int) -> None:
        super().__init__(close_code)
        self.close_code = close_code


def token_issue(*, user: AbstractBaseUser) -> str:
    return signing.dumps({"u": user.pk, "iat": time.time()}, salt=TOKEN_SALT)


def token_user(token: str) -> AbstractBaseUser:
    """The active user a token belongs to; TokenError carries the close code."""
    try:
        payload = signing.loads(token, salt=TOKEN_SALT, max_age=settings.API_TOKEN_MAX_AGE)
        user_id, issued = int(payload["u"]), float(payload["iat"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise TokenError(CLOSE_TOKEN_INVALID) from None
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None or not user.is_active:
        raise TokenError(CLOSE_USER_INVALID)
    revoked = TokenRevocation.objects.filter(user=user).values_list("revoked_at", flat=True).first()
    if revoked is not None and datetime.fromtimestamp(issued, tz=UTC) <= revoked:
        raise TokenError(CLOSE_TOKEN_INVALID)
    return user


def tokens_revoke(*, user: AbstractBaseUser) -> None:
    """Every token issued until now stops working ("log out everywhere")."""
    from django.utils import timezone

    TokenRevocation.objects.update_or_create(user=user, defaults={"revoked_at": timezone.now()})


def user_by_credentials(*, login: str, password: str) -> AbstractBaseUser | None:
    login = (login or "").strip()
    if not login or not password:
        return None
    user = get_user_model().objects.filter(Q(username__iexact=login) | Q(email__iexact=login)).first()
    if user is None or not user.is_active or not user.check_password(password):
        return None
    return user


def _query_token(scope) -> str | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
    return values[0] if values else None


def _origin(scope):
    for name, value in scope.get("headers", ()):
        if name == b"origin":
            try:
                return urlparse(value.decode("latin-1"))
            except ValueError:
                return None
    return None


@database_sync_to_async
def _resolve_token(token: str) -> tuple[AbstractBaseUser | AnonymousUser, int | None]:
    try:
        return token_user(token), None
    except TokenError as error:
        return AnonymousUser(), error.close_code


class Denier(WebsocketDenier):
    """Channels' handshake refusal, without a channel-layer channel of its own:
    a socket that is only refused has nothing to receive, and with Redis each
    such channel would be a blocking pop left running after the refusal."""

    channel_layer_alias = FanoutConsumer.channel_layer_alias


class SocketAuthMiddleware:
    """Routes each socket to token auth or to Origin-checked session auth.

    The two refusals made here, before any consumer runs (a foreign or missing
    Origin on a cookie socket, an oversize token), cannot be accepted and closed
    with a code, so they are logged here; every later refusal is logged by the
    consumer with its close code.
    """

    def __init__(self, router) -> None:
        self.router = router
        self.session_app = AllowedHostsOriginValidator(AuthMiddlewareStack(router))

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await self.session_app(scope, receive, send)
        token = _query_token(scope)
        if token is None:
            origin = _origin(scope)
            if not self._origin_allowed(origin):
                logger.info(
                    "ws refused before accept url=%s reason=origin origin=%r",
                    socket_url(scope),
                    origin.geturl()[:200] if origin else None,
                )
                return await Denier()(scope, receive, send)
            return await self.session_app(scope, receive, send)
        if len(token) > TOKEN_MAX_CHARS:
            logger.info("ws refused before accept url=%s reason=token-too-long", socket_url(scope))
            return await Denier()(scope, receive, send)
        user, error = await _resolve_token(token)
        scope = {
            **scope,
            # A token socket never also rides on a browser session.
            "headers": [(k, v) for k, v in scope["headers"] if k != b"cookie"],
            "user": user,
            "auth_error": error,
            "auth_via": "token",
        }
        return await self.router(scope, receive, send)

    def _origin_allowed(self, origin) -> bool:
        try:
            return self.session_app.valid_origin(origin)
        except ValueError:  # e.g. a port out of range
            return False
