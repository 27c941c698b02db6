"""The email notification choices on the account settings page."""

import pytest

from accounts.models import Preferences
from accounts.selectors import email_window, preferences_for

pytestmark = pytest.mark.django_db


def test_defaults_then_saved_choices(client_for, make_user, settings):
    settings.NOTIFICATION_EMAIL_DELAY_MINUTES = 10
    alice = make_user()
    client = client_for(alice)
    page = client.get("/accounts/settings/").content.decode()
    assert 'name="email_enabled"' in page and "checked" in page
    assert '<option value="10" selected>' in page
    assert 'id="browser-notifications"' in page and 'id="muted-rooms"' in page
    response = client.post("/accounts/settings/", {"theme": "system", "email_window_minutes": "30"})
    assert response.status_code == 302
    choices = preferences_for(user=alice)
    assert choices.email_enabled is False  # an unticked box is "off"
    assert email_window(choices).total_seconds() == 30 * 60


def test_a_window_that_is_not_offered_is_refused_and_nothing_changes(client_for, make_user):
    alice = make_user()
    response = client_for(alice).post(
        "/accounts/settings/", {"theme": "system", "email_enabled": "on", "email_window_minutes": "7"}
    )
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not Preferences.objects.exists()
