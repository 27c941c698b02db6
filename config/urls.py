from django.contrib import admin
from django.urls import include, path

from config import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("realtime/test/", views.realtime_test, name="realtime_test"),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("", include("rooms.urls")),
    path("", include("orders.urls")),
    path("", include("presence.urls")),
]
