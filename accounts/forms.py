from __future__ import annotations

from django import forms
from django.conf import settings

from accounts.models import NotificationSettings

# What the batch window may be, in minutes (the site's default is always one of them).
WINDOW_MINUTES = (5, 10, 30, 60, 240)


def _label(minutes: int) -> str:
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour{'s' if hours > 1 else ''}"
    return f"{minutes} minutes"


class NotificationSettingsForm(forms.ModelForm):
    email_window_minutes = forms.TypedChoiceField(
        label="Batch window",
        coerce=int,
        help_text="Wait this long after a message before emailing, and send at most one email per window.",
    )

    class Meta:
        model = NotificationSettings
        fields = ["email_enabled", "email_window_minutes"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        minutes = sorted({*WINDOW_MINUTES, settings.NOTIFICATION_EMAIL_DELAY_MINUTES})
        self.fields["email_window_minutes"].choices = [(value, _label(value)) for value in minutes]
        self.fields["email_window_minutes"].widget.attrs["class"] = "field"
