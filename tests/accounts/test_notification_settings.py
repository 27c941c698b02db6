"""The account's notification settings page."""

import pytest

from accounts.models import NotificationSettings
from accounts.selectors import email_window, notification_settings_for

pytestmark = pytest.mark.django_db


def test_defaults_then_saved_choices(client_for, make_user, settings):
    settings.NOTIFICATION_EMAIL_DELAY_MINUTES = 10
    alice = make_user()
    client = client_for(alice)
    page = client.get("/settings/notifications/").content.decode()
    assert 'name="email_enabled"' in page and "checked" in page
    assert '<option value="10" selected>' in page
    response = client.post("/settings/notifications/", {"email_window_minutes": "30"})
    assert response.status_code == 302
    choices = notification_settings_for(user=alice)
    assert choices.email_enabled is False  # an unticked box is "off"
    assert email_window(choices).total_seconds() == 30 * 60


def test_a_window_that_is_not_offered_is_refused_and_nothing_changes(client_for, make_user):
    alice = make_user()
    response = client_for(alice).post("/settings/notifications/", {"email_enabled": "on", "email_window_minutes": "7"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not NotificationSettings.objects.exists()


def test_signed_out_visitors_are_sent_to_log_in(client):
    response = client.get("/settings/notifications/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
