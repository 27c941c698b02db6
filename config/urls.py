from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from orders.views import home

urlpatterns = [
    path("", home, name="home"),
    # Pages link their icon; this is for the ones that cannot (admin, JSON) so no browser logs a 404.
    path("favicon.ico", RedirectView.as_view(url=f"{settings.STATIC_URL}favicon.ico", permanent=True)),
    path("", include("realtime.urls")),
    path("accounts/", include("accounts.urls")),
    path("accounts/", include("allauth.urls")),
    path("", include("notifications.urls")),
    path("admin/", admin.site.urls),
    # Before rooms.urls so /chat/upload/<name>/ never reads as a room called "upload".
    path("", include("rooms.file_urls")),
    path("", include("rooms.urls")),
    path("", include("orders.urls")),
]
