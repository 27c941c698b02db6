"""Input forms. They only parse and validate shape; the services decide, and the
price is never a form field."""

from __future__ import annotations

from typing import Any

from django import forms

from orders import pricing, ranks
from orders.ranks import Division, Rank

DIVISION_CHOICES = [("", "—"), *Division.choices]


class _RankFields(forms.Form):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "field")

    def rank_error(self, field: str, error: ranks.RankError) -> None:
        self.add_error(field, str(error))


class OrderCreateForm(_RankFields):
    current_rank = forms.ChoiceField(choices=Rank.choices, initial=Rank.SILVER)
    current_division = forms.TypedChoiceField(
        choices=DIVISION_CHOICES, coerce=int, empty_value=None, required=False, initial=Division.II
    )
    current_lp = forms.IntegerField(min_value=0, max_value=ranks.LP_MAX_APEX, initial=0, label="Current LP")
    desired_rank = forms.ChoiceField(choices=Rank.choices, initial=Rank.GOLD)
    desired_division = forms.TypedChoiceField(
        choices=DIVISION_CHOICES, coerce=int, empty_value=None, required=False, initial=Division.IV
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        try:
            ranks.validate(data["current_rank"], data["current_division"], data["current_lp"])
        except ranks.RankError as error:
            self.rank_error("current_rank", error)
            return data
        try:
            self.quote = pricing.quote(
                current_rank=data["current_rank"],
                current_division=data["current_division"],
                desired_rank=data["desired_rank"],
                desired_division=data["desired_division"],
            )
        except ranks.RankError as error:
            self.rank_error("desired_rank", error)
        return data


class ProgressForm(_RankFields):
    reached_rank = forms.ChoiceField(choices=Rank.choices)
    reached_division = forms.TypedChoiceField(choices=DIVISION_CHOICES, coerce=int, empty_value=None, required=False)
    reached_lp = forms.IntegerField(min_value=0, max_value=ranks.LP_MAX_APEX, label="LP")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not self.errors:
            try:
                ranks.validate(data["reached_rank"], data["reached_division"], data["reached_lp"])
            except ranks.RankError as error:
                self.rank_error("reached_rank", error)
        return data


class AssignForm(forms.Form):
    booster = forms.IntegerField(min_value=1)


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=[("in_progress", "In progress"), ("paused", "Paused")])


def initial_quote() -> pricing.Quote:
    """The price of the form's preset boost, shown before anything is chosen."""
    fields = OrderCreateForm.base_fields
    return pricing.quote(
        current_rank=fields["current_rank"].initial,
        current_division=fields["current_division"].initial,
        desired_rank=fields["desired_rank"].initial,
        desired_division=fields["desired_division"].initial,
    )
