"""Boostroom settings.

Every value comes from the environment with a development default, so a fresh
clone runs with SQLite, the in-memory channel layer and local media. Setting
DATABASE_URL, REDIS_URL and CLOUDINARY_URL switches to the real services.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from csp import constants as csp_constants
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_price_table(name: str, defaults: dict[str, str]) -> dict[str, str]:
    """`defaults`, with the `key=value,...` pairs of the environment variable over them."""
    table = dict(defaults)
    table.update(
        (key.strip().lower(), value.strip()) for key, _, value in (item.partition("=") for item in env_list(name, []))
    )
    return table


# GENERAL
DEBUG = env_bool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "dev-only-insecure-key-change-me-boostroom-0123456789abcdef"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
if not DEBUG and "*" in ALLOWED_HOSTS:
    # A wildcard would let any Origin pass the WebSocket origin check.
    raise ImproperlyConfigured("ALLOWED_HOSTS may not contain '*' when DEBUG is off.")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# A refused form token gets the site's styled 403 (or, for htmx, an inline notice).
CSRF_FAILURE_VIEW = "accounts.views.csrf_failure"

# Where people reach the site. Mails link here (a mail has no page to be
# relative to, and a request's Host header is not to be trusted with a
# password-reset link); allauth's site name and domain come from it too.
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
if urlsplit(SITE_URL).scheme not in {"http", "https"} or not urlsplit(SITE_URL).netloc:
    raise ImproperlyConfigured("SITE_URL must be an http:// or https:// address, e.g. https://boostroom.example")
SITE_NAME = "Boostroom"

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
SITE_ID = 1

# APPS
INSTALLED_APPS = [
    # daphne first so `runserver` serves WebSockets too.
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "servestatic",
    "channels",
    "csp",
    "django_htmx",
    "template_partials",
    "allauth",
    "allauth.account",
    "realtime",
    "accounts",
    "uploads",
    "rooms",
    "orders",
    "presence",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "realtime.middleware.StaticFilesMiddleware",
    # Before everything that writes the body, so what they write is compressed.
    "realtime.middleware.TextCompressionMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "realtime.middleware.BearerTokenMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.middleware.theme_cookie_middleware",
    "csp.middleware.CSPMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "realtime.context_processors.csp_nonce",
                "accounts.context_processors.theme",
            ],
        },
    }
]

# DATABASES
DATABASE_URL = os.environ.get("DATABASE_URL", "")
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DB_CONN_MAX_AGE", 0),
    )
}
# HTTP requests run on this many threads kept per process, their connections
# kept as DB_CONN_MAX_AGE says; more at once get a thread each (realtime/handler.py).
REQUEST_THREADS = env_int("REQUEST_THREADS", 4)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout keep the embedded server usable while a sync view
    # and a socket write at the same moment.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

# CHANNELS
REDIS_URL = os.environ.get("REDIS_URL", "")
REDIS_PREFIX = os.environ.get("REDIS_PREFIX", "boostroom")
# The channel layer may shard over several Redis servers (channels-redis hashes
# each group and channel to one of them); presence and the cache stay on REDIS_URL.
REDIS_SHARDS = env_list("REDIS_SHARDS", [REDIS_URL] if REDIS_URL else [])
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": shard,
                        # redis-py 8 defaults to a 100-connection pool that raises
                        # "Too many connections", and to a 5 s socket timeout that
                        # equals the layer's 5 s blocking pop (channels_redis#422).
                        "max_connections": env_int("REDIS_MAX_CONNECTIONS", 2000),
                        "socket_timeout": 10,
                        "socket_connect_timeout": 5,
                        "health_check_interval": 15,
                    }
                    for shard in REDIS_SHARDS
                ],
                "prefix": f"{REDIS_PREFIX}:asgi",
                # One process channel carries every event for that process, so it
                # needs room for a burst; events older than `expiry` are stale.
                "capacity": env_int("CHANNEL_CAPACITY", 5000),
                "expiry": 60,
                "group_expiry": 86400,
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "realtime.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": env_int("CHANNEL_CAPACITY", 5000), "expiry": 60},
        }
    }

# CACHE (rate limits are shared by every process through Redis when configured)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "realtime.cache.SharedPoolRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": f"{REDIS_PREFIX}:cache",
            # A rate-limit check must fail fast, not hang a send, if Redis is away.
            "OPTIONS": {"socket_timeout": 2, "socket_connect_timeout": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# AUTHENTICATION
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "optional"
ACCOUNT_UNIQUE_EMAIL = True
# Signing up with a registered email must look like any other signup. With
# optional verification only "strict" can do that: the second account keeps the
# address unverified, and only its real owner can ever verify it.
ACCOUNT_PREVENT_ENUMERATION = "strict"
# Usernames: NFKC, no invisible characters, no look-alikes (accounts/usernames.py).
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_DEFAULT_HTTP_PROTOCOL = urlsplit(SITE_URL).scheme
ACCOUNT_EMAIL_SUBJECT_PREFIX = f"[{SITE_NAME}] "
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# EMAIL
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Boostroom <noreply@boostroom.local>")

# STATIC AND MEDIA
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
# ServeStatic (the ASGI-native fork of WhiteNoise) serves /static/ from the app
# itself, streaming. After collectstatic, names carry a content hash and are
# cached for ten years ("immutable"), with gzip and Brotli copies made once at
# collectstatic time. In DEBUG it reads static/ directly (edits show at once,
# no hashes, no caching).
SERVE_STATIC = env_bool("SERVE_STATIC", True)
if not SERVE_STATIC:
    MIDDLEWARE.remove("realtime.middleware.StaticFilesMiddleware")
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))

# STORAGE
# Uploads are private: MEDIA_ROOT is never served as a folder; files go out only
# through views that check the viewer (uploads.delivery), or as signed Cloudinary
# URLs that expire.
CLOUDINARY_URL = os.environ.get("CLOUDINARY_URL", "")
STORAGES = {
    "default": {
        "BACKEND": "uploads.storage.CloudinaryStorage"
        if CLOUDINARY_URL
        else "django.core.files.storage.FileSystemStorage"
    },
    "staticfiles": {"BACKEND": "servestatic.storage.CompressedManifestStaticFilesStorage"},
}
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 10 * 1024 * 1024)
# Below Pillow's own decompression-bomb threshold (about 89 megapixels).
UPLOAD_MAX_PIXELS = env_int("UPLOAD_MAX_PIXELS", 40_000_000)
UPLOAD_RATE_LIMIT = env_int("UPLOAD_RATE_LIMIT", 10)
UPLOAD_RATE_WINDOW_SECONDS = 60
UPLOAD_URL_TTL_SECONDS = env_int("UPLOAD_URL_TTL_SECONDS", 300)
# The size handler goes first so it stops an oversize file before the others
# buffer it; files above 2.5 MB spill to a temporary file instead of memory.
FILE_UPLOAD_HANDLERS = [
    "uploads.handlers.UploadSizeLimitHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_PERMISSIONS = 0o640

# SECURITY
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
# A load balancer's health check speaks plain HTTP to the process itself; a
# redirect to https would read as "unhealthy".
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Only the site's own scripts run; the one inline <style> carries the nonce.
# Style attributes stay allowed (progress bar widths); they cannot run code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", csp_constants.NONCE],
        "style-src": ["'self'", csp_constants.NONCE],
        "style-src-attr": ["'unsafe-inline'"],
        # Cloudinary's signed private downloads are served from api.cloudinary.com.
        "img-src": ["'self'", "data:", "blob:", "https://res.cloudinary.com", "https://api.cloudinary.com"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# API AND LIMITS
API_TOKEN_MAX_AGE = env_int("API_TOKEN_MAX_AGE", 3600)
API_TOKEN_RATE_LIMIT = (env_int("API_TOKEN_RATE_LIMIT", 10), 60)  # attempts per login/address per minute
SOCKETS_PER_USER = env_int("SOCKETS_PER_USER", 20)
# What one socket may be owed before it is closed with 1013 and resumes: its
# frames wait in its own queue, so a reader that stops reading holds up no one.
WS_QUEUE_MAX_FRAMES = env_int("WS_QUEUE_MAX_FRAMES", 1000)
WS_QUEUE_MAX_BYTES = env_int("WS_QUEUE_MAX_BYTES", 1024 * 1024)
CHAT_RATE_LIMIT = (env_int("CHAT_RATE_LIMIT", 20), 10)  # messages per user per room per seconds

# BOOSTROOM
CHAT_MESSAGE_MAX_LENGTH = env_int("CHAT_MESSAGE_MAX_LENGTH", 2000)
CHAT_PAGE_SIZE = 30
# Changes one resume replays before the page is asked to reload instead.
CHAT_RESUME_LIMIT = 200
# A room opened at a message (?around=) shows it through the newest, up to this many.
CHAT_AROUND_LIMIT = 500
CHAT_EDIT_WINDOW_SECONDS = env_int("CHAT_EDIT_WINDOW_SECONDS", 15 * 60)  # staff may edit any time
CHAT_REACTIONS = env_list("CHAT_REACTIONS", ["👍", "❤️", "😂", "🎉", "😮", "😢"])
PUBLIC_CHAT_RETENTION_DAYS = env_int("PUBLIC_CHAT_RETENTION_DAYS", 3)
# Groups up to this size show "Seen by …" receipts; larger ones (and the public room) show none.
CHAT_RECEIPTS_MAX_MEMBERS = env_int("CHAT_RECEIPTS_MAX_MEMBERS", 50)
PRESENCE_HEARTBEAT_SECONDS = env_int("PRESENCE_HEARTBEAT_SECONDS", 30)
PRESENCE_COALESCE_SECONDS = float(os.environ.get("PRESENCE_COALESCE_SECONDS", "1"))

# NOTIFICATIONS (their absolute links use SITE_URL, under GENERAL)
# An offline user's first unread direct message, @mention or order-chat message
# waits this long before the one batched email (each user may choose their own).
NOTIFICATION_EMAIL_DELAY_MINUTES = env_int("NOTIFICATION_EMAIL_DELAY_MINUTES", 10)
# How often each server process looks for emails and pushes that are due; 0
# leaves it to `manage.py send_notifications` from cron.
NOTIFICATION_POLL_SECONDS = env_int("NOTIFICATION_POLL_SECONDS", 20)
# Web Push: on when both keys are set (base64url, as `vapid --gen` prints them).
WEBPUSH_VAPID_PUBLIC_KEY = os.environ.get("WEBPUSH_VAPID_PUBLIC_KEY", "")
WEBPUSH_VAPID_PRIVATE_KEY = os.environ.get("WEBPUSH_VAPID_PRIVATE_KEY", "")
WEBPUSH_VAPID_SUBJECT = os.environ.get("WEBPUSH_VAPID_SUBJECT", "mailto:admin@boostroom.local")

# ORDERS
# Each game's price table (orders/games/, README "Pricing"): what one ladder step
# costs, by the tier it starts in (an apex tier's price is its step to the next),
# and each option's surcharge as a fraction of that. Single entries are
# overridden from the environment, e.g. ORDERS_STEP_PRICES="silver=9.00,gold=12.50"
# or ORDERS_VALORANT_OPTION_PRICES="duo_queue=0.50".
# League of Legends
ORDERS_STEP_PRICES = env_price_table(
    "ORDERS_STEP_PRICES",
    {
        "iron": "5.00",
        "bronze": "6.00",
        "silver": "8.00",
        "gold": "11.00",
        "platinum": "15.00",
        "emerald": "20.00",
        "diamond": "35.00",
        "master": "120.00",
        "grandmaster": "250.00",
    },
)
ORDERS_LOL_OPTION_PRICES = env_price_table(
    "ORDERS_LOL_OPTION_PRICES",
    {"duo_queue": "0.50", "appear_offline": "0.05", "priority_start": "0.20", "preferences": "0.10"},
)
# Valorant
ORDERS_VALORANT_STEP_PRICES = env_price_table(
    "ORDERS_VALORANT_STEP_PRICES",
    {
        "iron": "4.00",
        "bronze": "5.00",
        "silver": "7.00",
        "gold": "9.00",
        "platinum": "12.00",
        "diamond": "18.00",
        "ascendant": "28.00",
        "immortal": "60.00",
    },
)
ORDERS_VALORANT_OPTION_PRICES = env_price_table(
    "ORDERS_VALORANT_OPTION_PRICES",
    {"duo_queue": "0.60", "appear_offline": "0.05", "priority_start": "0.20", "preferences": "0.10"},
)
ORDERS_BOOSTER_SHARE = os.environ.get("ORDERS_BOOSTER_SHARE", "0.70")  # the booster's cut of the price

# LOGGING
LOG_DIR = os.environ.get("LOG_DIR", "")
LOGGING: dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "realtime.logging.RedactSecretsFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.channels.server": {"handlers": ["console"], "filters": ["redact"], "propagate": False},
        "daphne": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}
if LOG_DIR:
    # A fresh machine has no log folder yet; the handler would fail at startup.
    Path(LOG_DIR).mkdir(parents=True, exist_ok=True)
    LOGGING["handlers"]["realtime_file"] = {
        "class": "logging.handlers.RotatingFileHandler",
        "filename": str(Path(LOG_DIR) / "realtime.log"),
        "maxBytes": 5 * 1024 * 1024,
        "backupCount": 5,
        "formatter": "plain",
        "filters": ["redact"],
    }
    LOGGING["loggers"]["boostroom.realtime"] = {
        "handlers": ["console", "realtime_file"],
        "level": "INFO",
        "propagate": False,
    }
