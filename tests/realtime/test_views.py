import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": True, "channel_layer": True}


def test_healthz_unavailable_when_channel_layer_is_down(client, settings):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # Nothing listens on port 1.
            "CONFIG": {"hosts": [{"address": "redis://127.0.0.1:1/0", "socket_connect_timeout": 0.5}]},
        }
    }
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["channel_layer"] is False


def test_healthz_unavailable_when_database_is_down(client, monkeypatch):
    from django.db import connection

    def broken_cursor(*args, **kwargs):
        raise RuntimeError("database is gone")

    monkeypatch.setattr(connection, "cursor", broken_cursor)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] is False


@pytest.mark.parametrize("role", [None, "customer", "booster", "manager"])
def test_realtime_test_denied_to_non_staff(make_user, client_for, role):
    user = make_user(role=role) if role else None
    response = client_for(user).get("/realtime/test/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_realtime_test_for_staff_shows_layer_and_ping_socket(make_user, client_for, settings):
    response = client_for(make_user(role="admin")).get("/realtime/test/")
    assert response.status_code == 200
    body = response.content.decode()
    configured = settings.CHANNEL_LAYERS["default"]["BACKEND"]  # e.g. channels.layers.InMemoryChannelLayer
    assert f'<dd id="layer-backend">{configured}</dd>' in body
    redis = "answers" if settings.REDIS_URL else "not configured (in-memory layer)"
    assert f'<dd id="redis-status">{redis}</dd>' in body
    assert 'ws-connect="/ws/realtime/ping/"' in body


def test_healthz_is_not_redirected_to_https(client, settings):
    """A load balancer checks the process over plain HTTP; every other page goes to HTTPS."""
    settings.SECURE_SSL_REDIRECT = True
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    page = client.get("/")
    assert page.status_code == 301 and page["Location"] == "https://testserver/"
    health = client.get("/healthz", HTTP_X_FORWARDED_PROTO="https", secure=True)
    assert health.status_code == 200


def test_base_page_loads_htmx_from_django_htmx_not_a_cdn(client):
    body = client.get("/").content.decode()
    assert "/static/django_htmx/htmx-2" in body
    assert "/static/django_htmx/ext/hx-ws-2" in body
    assert "unpkg.com" not in body and "cdn." not in body
    assert 'hx-headers=\'{"X-CSRFToken"' in body


def test_roles_exist_after_migrate():
    assert set(Group.objects.values_list("name", flat=True)) >= {"boosters", "managers"}


def test_signup_then_login_by_username_and_by_email(client):
    response = client.post(
        reverse("account_signup"),
        {
            "username": "newcomer",
            "email": "newcomer@example.com",
            "password1": "s3cret-enough-pass",
            "password2": "s3cret-enough-pass",
        },
    )
    assert response.status_code == 302
    assert User.objects.filter(username="newcomer").exists()
    client.logout()
    for login in ("newcomer", "newcomer@example.com"):
        response = client.post(reverse("account_login"), {"login": login, "password": "s3cret-enough-pass"})
        assert response.status_code == 302, login
        assert client.get("/").context["user"].username == "newcomer"
        client.post(reverse("account_logout"))


def test_login_with_wrong_password_is_refused(client, make_user):
    make_user("alice")
    response = client.post(reverse("account_login"), {"login": "alice", "password": "nope"})
    assert response.status_code == 200
    assert not response.context["user"].is_authenticated
