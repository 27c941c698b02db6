from django.urls import path

from accounts import views

app_name = "accounts"
urlpatterns = [
    path("settings/notifications/", views.notification_settings, name="notifications"),
]
