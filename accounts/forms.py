from __future__ import annotations

from django import forms

from accounts.models import Preferences, Theme


class PreferencesForm(forms.ModelForm):
    """The account settings page: the theme first; later settings add their fields here."""

    class Meta:
        model = Preferences
        fields = ["theme"]
        widgets = {"theme": forms.RadioSelect}
        help_texts = {"theme": "System follows your device's light or dark setting."}


class ThemeForm(forms.Form):
    """The theme menu in the header, for signed-in users and visitors alike."""

    theme = forms.ChoiceField(choices=Theme.choices)
