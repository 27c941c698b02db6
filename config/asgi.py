"""ASGI entry point: HTTP through Django, WebSockets through Channels."""

import gc
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup(set_prefix=False)

from realtime.handler import SyncChainASGIHandler  # noqa: E402

# Django's own handler, but each request's middleware and view run in one
# worker-thread call (realtime/handler.py).
django_asgi_app = SyncChainASGIHandler()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import reverse  # noqa: E402

from config.routing import websocket_urlpatterns  # noqa: E402
from notifications.asgi import NotifierStarter  # noqa: E402
from realtime.auth import SocketAuthMiddleware  # noqa: E402
from uploads.limits import UploadSizeLimitMiddleware  # noqa: E402

# The URLconf (every view module) and its reverse index are loaded now, while the
# process starts, not by whatever first names a URL: a request, or the first chat
# message or order card a socket is sent, which would pay for it (about 0.1 s).
reverse("home")

# The notification loop starts with the first request or socket (notifications/notifier.py).
application = NotifierStarter(
    ProtocolTypeRouter(
        {
            # Oversize uploads are refused before Django reads their body (uploads/limits.py);
            # /static/ is ServeStatic's middleware (settings.MIDDLEWARE, STATIC AND MEDIA).
            "http": UploadSizeLimitMiddleware(django_asgi_app),
            # Session sockets: the site's own Origin, then session and user in one step;
            # `?token=` sockets: the signed token instead (realtime/auth.py).
            "websocket": SocketAuthMiddleware(URLRouter(websocket_urlpatterns)),
        }
    )
)

# What is loaded by now lives as long as the process: the collector stops
# walking it. A full collection walked all of it and held every socket of the
# process for 130-190 ms (the stalls behind `make bench`'s p99), every ten
# seconds or so under load; without it, 50-80 ms.
gc.freeze()
