from django.urls import path

from realtime import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("realtime/test/", views.realtime_test, name="realtime_test"),
    path("api/token/", views.api_token, name="api_token"),
    path("api/token/revoke/", views.api_token_revoke, name="api_token_revoke"),
]
