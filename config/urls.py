from django.contrib import admin
from django.urls import include, path

from orders.views import home

urlpatterns = [
    path("", home, name="home"),
    path("", include("realtime.urls")),
    path("accounts/", include("allauth.urls")),
    path("", include("accounts.urls")),
    path("", include("notifications.urls")),
    path("admin/", admin.site.urls),
    # Before rooms.urls so /chat/upload/<name>/ never reads as a room called "upload".
    path("", include("rooms.file_urls")),
    path("", include("rooms.urls")),
    path("", include("orders.urls")),
]
