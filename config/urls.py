from django.contrib import admin
from django.urls import include, path

from config import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("realtime/test/", views.realtime_test, name="realtime_test"),
    path("api/token/", views.api_token, name="api_token"),
    path("api/token/revoke/", views.api_token_revoke, name="api_token_revoke"),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    # Before rooms.urls so /chat/upload/<name>/ never reads as a room called "upload".
    path("", include("rooms.file_urls")),
    path("", include("rooms.urls")),
    path("", include("orders.urls")),
    path("", include("presence.urls")),
]
