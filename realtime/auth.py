"""Signed, expiring API tokens, and who is asking on every socket.

Browsers authenticate sockets with the session cookie and must send the site's
own Origin: scheme, host and port (against cross-site WebSocket hijacking). API clients send `?token=`;
cookies are then ignored, and a socket with no Origin is accepted only that way.
"""

from __future__ import annotations

import logging
import time
import unicodedata
from datetime import UTC, datetime
from importlib import import_module
from urllib.parse import parse_qs, urlsplit

from channels.auth import get_user
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core import signing
from django.db import transaction
from django.db.models import Q
from django.http.cookie import parse_cookie
from django.http.request import split_domain_port, validate_host

from realtime.aftercommit import after_commit
from realtime.consumers import CLOSE_TOKEN_INVALID, CLOSE_USER_INVALID, FanoutConsumer
from realtime.db import db_sync_to_async
from realtime.logging import socket_url
from realtime.models import TokenRevocation
from realtime.signals import credentials_changed

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
    return _token_user_and_expiry(token)[0]


def _token_user_and_expiry(token: str) -> tuple[AbstractBaseUser, float]:
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
    return user, issued + settings.API_TOKEN_MAX_AGE


def tokens_revoke(*, user: AbstractBaseUser) -> None:
    """Every token issued until now stops working ("log out everywhere")."""
    from django.utils import timezone

    TokenRevocation.objects.update_or_create(user=user, defaults={"revoked_at": timezone.now()})


@transaction.atomic
def password_changed(*, user: AbstractBaseUser) -> None:
    """The user's password changed, from wherever (allauth's change and reset
    forms, the admin, the shell): every token issued before stops working, and
    every socket of the user closes but those of the session that changed it."""
    tokens_revoke(user=user)
    after_commit(credentials_changed, user.pk, _changing_session_key(user))


def _changing_session_key(user: AbstractBaseUser) -> str | None:
    # allauth's middleware keeps the current request at hand. Read before the
    # change is finished: update_session_auth_hash then moves the session to a
    # new key, while the sockets of this browser still carry this one.
    from allauth.core import context

    request = context.request
    current = getattr(request, "user", None)
    if request is None or getattr(current, "pk", None) != user.pk or not hasattr(request, "session"):
        return None
    return request.session.session_key


def normalized_login(login: str) -> str:
    """One spelling per login, for counting attempts: ' Alice', 'alice ' and a
    full-width 'ａｌｉｃｅ' are the same account's budget."""
    return unicodedata.normalize("NFKC", login or "").strip().casefold()


def user_by_credentials(*, login: str, password: str) -> AbstractBaseUser | None:
    """The active user with this username or email and password, or None.

    Every refusal costs one password hash, so an unknown login answers as slowly
    as a known one with a wrong password (no account discovery by timing).
    """
    login = (login or "").strip()
    candidates = []
    if login and password:
        candidates = list(get_user_model().objects.filter(Q(username__iexact=login) | Q(email__iexact=login)))
    if not candidates:
        make_password(password or "")
        return None
    # Checked for each (strict enumeration prevention allows an unverified
    # duplicate of an email address): only the one whose password matches.
    found = next((user for user in candidates if user.check_password(password)), None)
    if found is None or not found.is_active:
        return None
    return found


def _query_token(scope) -> str | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
    return values[0] if values else None


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin_parts(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin, with the scheme's default port filled in."""
    try:
        parts = urlsplit(url)
        scheme, host, port = parts.scheme.lower(), (parts.hostname or "").lower(), parts.port
    except ValueError:  # e.g. a port out of range
        return None
    if scheme not in DEFAULT_PORTS or not host:
        return None
    return scheme, host, port or DEFAULT_PORTS[scheme]


def _allowed_hosts() -> list[str]:
    # What Django's own request.get_host() allows.
    if settings.DEBUG and not settings.ALLOWED_HOSTS:
        return [".localhost", "127.0.0.1", "[::1]"]
    return settings.ALLOWED_HOSTS


def _came_by_https(scope) -> bool:
    if scope.get("scheme") in ("wss", "https"):
        return True
    proxy_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if not proxy_header:
        return False
    name, secure_value = proxy_header
    sent = _header(scope, name.removeprefix("HTTP_").lower().replace("_", "-").encode())
    return sent is not None and sent.split(",")[0].strip() == secure_value


def origin_allowed(scope) -> bool:
    """Whether a cookie socket's Origin is this site itself: the same scheme, host
    and port it was reached at (the Host header, which must be an allowed host),
    or one of CSRF_TRUSTED_ORIGINS. Another port or scheme on an allowed host is
    another origin (`http://127.0.0.1:9999` is not `http://127.0.0.1:8000`)."""
    origin = _header(scope, b"origin")
    parts = _origin_parts(origin) if origin else None
    if parts is None:
        return False
    trusted = {_origin_parts(entry) for entry in settings.CSRF_TRUSTED_ORIGINS}
    if parts in trusted or any(_wildcard_match(parts, entry) for entry in settings.CSRF_TRUSTED_ORIGINS):
        return True
    host = _header(scope, b"host")
    if host is None:
        # Browsers always send Host; a client that does not can send any Origin
        # too, so all that is left to check is the host name.
        return validate_host(parts[1], _allowed_hosts())
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, _allowed_hosts()):
        return False
    scheme = "https" if _came_by_https(scope) else "http"
    return parts == _origin_parts(f"{scheme}://{host}")


def _wildcard_match(parts: tuple[str, str, int], entry: str) -> bool:
    # CSRF_TRUSTED_ORIGINS may name every subdomain: "https://*.example.com".
    if "://*." not in entry:
        return False
    pattern = _origin_parts(entry.replace("://*.", "://", 1))
    if pattern is None:
        return False
    scheme, domain, port = pattern
    return parts[0] == scheme and parts[2] == port and parts[1].endswith("." + domain)


def _resolve_token(token: str) -> tuple[AbstractBaseUser | AnonymousUser, int | None, float | None]:
    try:
        user, expires_at = _token_user_and_expiry(token)
        return user, None, expires_at
    except TokenError as error:
        return AnonymousUser(), error.close_code, None


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
        self.session_store = import_module(settings.SESSION_ENGINE).SessionStore

    async def _with_session(self, scope, receive, send):
        """What Channels' cookie, session and auth middleware do for a socket, in
        one step: each of them copied the scope and stayed on the stack for the
        socket's life (a few KB of every idle socket), and the session layer
        inspected the session on every frame sent, only ever to save it on HTTP
        responses."""
        cookies = {}
        for name, value in scope["headers"]:
            if name == b"cookie":
                cookies = parse_cookie(value.decode("latin1"))
                break
        session = self.session_store(cookies.get(settings.SESSION_COOKIE_NAME))
        # Channels' own lookup, minus its context copy-back (realtime/db.py).
        user = await db_sync_to_async(get_user.func)({"session": session})
        # Only the key outlives the handshake (a password change keeps the session
        # that made it): the decoded session and the cookies would be kept by
        # every idle socket for nothing.
        scope = {**scope, "user": user, "session_key": session.session_key}
        return await self.router(scope, receive, send)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await self.router(scope, receive, send)
        token = _query_token(scope)
        if token is None:
            if not origin_allowed(scope):
                logger.info(
                    "ws refused before accept url=%s reason=origin origin=%r",
                    socket_url(scope),
                    (_header(scope, b"origin") or "")[:200] or None,
                )
                return await Denier()(scope, receive, send)
            return await self._with_session(scope, receive, send)
        if len(token) > TOKEN_MAX_CHARS:
            logger.info("ws refused before accept url=%s reason=token-too-long", socket_url(scope))
            return await Denier()(scope, receive, send)
        user, error, expires_at = await db_sync_to_async(_resolve_token)(token)
        scope = {
            **scope,
            # A token socket never also rides on a browser session.
            "headers": [(k, v) for k, v in scope["headers"] if k != b"cookie"],
            "user": user,
            "auth_error": error,
            "auth_via": "token",
            # The socket closes (4003) when its token expires (realtime.consumers).
            "token_expires_at": expires_at,
        }
        return await self.router(scope, receive, send)
