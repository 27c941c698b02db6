from __future__ import annotations

from django import forms
from django.conf import settings

from accounts.models import Preferences, Theme

# What the email batch window may be, in minutes (the site's default is always one of them).
WINDOW_MINUTES = (5, 10, 30, 60, 240)


def _window_label(minutes: int) -> str:
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour{'s' if hours > 1 else ''}"
    return f"{minutes} minutes"


class PreferencesForm(forms.ModelForm):
    """The account settings page: the theme first; later settings add their fields here."""

    email_window_minutes = forms.TypedChoiceField(
        label="Email batch window",
        coerce=int,
        required=False,
        empty_value=None,
        help_text="Wait this long after a message before emailing, and send at most one email per window.",
    )

    class Meta:
        model = Preferences
        fields = ["theme", "email_enabled", "email_window_minutes"]
        widgets = {"theme": forms.RadioSelect}
        help_texts = {"theme": "System follows your device's light or dark setting."}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        default = settings.NOTIFICATION_EMAIL_DELAY_MINUTES
        window = self.fields["email_window_minutes"]
        window.choices = [(value, _window_label(value)) for value in sorted({*WINDOW_MINUTES, default})]
        if self.instance.email_window_minutes is None:
            self.initial["email_window_minutes"] = default


class ThemeForm(forms.Form):
    """The theme menu in the header, for signed-in users and visitors alike."""

    theme = forms.ChoiceField(choices=Theme.choices)
