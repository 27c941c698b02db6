"""Input forms. They only parse and validate shape; the services decide, and the
price is never a form field."""

from __future__ import annotations

from typing import Any

from django import forms

from orders import games, selectors
from orders.games import Game, OrderOptions
from orders.games.base import PREFERENCES_MAX_LENGTH
from orders.models import Order

GAME_SWITCHED = "You picked {game}: choose your ranks for it."


def _game_named(slug: object) -> Game:
    """The game a form is for; anything unknown draws the default's fields (and fails validation)."""
    return games.GAMES.get(str(slug or ""), games.GAMES[games.DEFAULT])


class _LadderForm(forms.Form):
    """Rank fields drawn from one game's ladder: its tiers, divisions and points."""

    game_def: Game  # not `game`: templates would find the form field of that name first

    def _style(self) -> None:
        for field in self.fields.values():
            if not isinstance(field.widget, forms.CheckboxInput | forms.HiddenInput):
                field.widget.attrs.setdefault("class", "field")

    def _rank_fields(self, prefix: str, *, points: str | None) -> None:
        ladder = self.game_def.ladder
        self.fields[f"{prefix}_rank"] = forms.ChoiceField(choices=ladder.tier_choices(), label="Rank")
        self.fields[f"{prefix}_division"] = forms.TypedChoiceField(
            choices=[("", "—"), *ladder.division_choices()],
            coerce=int,
            empty_value=None,
            required=False,
            label="Division",
        )
        if points:
            self.fields[points] = forms.IntegerField(
                min_value=0, max_value=ladder.points_limit(), initial=0, label=ladder.points_name
            )

    def _check(self, field: str, check: Any, *args: Any, **kwargs: Any) -> bool:
        try:
            check(*args, **kwargs)
        except games.LadderError as error:
            self.add_error(field, str(error))
            return False
        return True


class OrderCreateForm(_LadderForm):
    """A new boost: the game, where the account is, where it should get, and the
    options the game sells. Whatever else is posted (a price) is not read."""

    def __init__(self, data: Any = None, *, game: str | None = None) -> None:
        self.game_def = _game_named(data.get("game") if data is not None else game)
        current, desired = self.game_def.preset
        initial = {
            "game": self.game_def.slug,
            "shown_game": self.game_def.slug,
            "current_rank": current[0],
            "current_division": current[1],
            "desired_rank": desired[0],
            "desired_division": desired[1],
            "region": self.game_def.regions[0][0],
        }
        super().__init__(data, initial=initial)
        self.fields["game"] = forms.ChoiceField(choices=games.choices(), required=False, label="Game")
        # The game the rank fields on the page were drawn for: another one in
        # `game` means the customer just switched, and the fields are redrawn.
        self.fields["shown_game"] = forms.CharField(required=False, widget=forms.HiddenInput)
        self._rank_fields("current", points="current_points")
        self._rank_fields("desired", points=None)
        for option in self.game_def.options:
            if option.field == "preferences":
                self.fields[option.field] = forms.CharField(
                    required=False, max_length=PREFERENCES_MAX_LENGTH, label=option.label, help_text=option.help
                )
                self.fields[option.field].widget.attrs["placeholder"] = option.help
            else:
                self.fields[option.field] = forms.BooleanField(
                    required=False, label=option.label, help_text=option.help
                )
        self.fields["region"] = forms.ChoiceField(choices=self.game_def.regions, required=False, label="Server")
        self._style()

    @property
    def switched(self) -> bool:
        if not self.is_bound or self.data.get("game") not in games.GAMES:
            return False
        return self.data.get("shown_game", self.game_def.slug) != self.game_def.slug

    def option_rows(self) -> list[tuple[forms.BoundField, str]]:
        """The switches with their surcharge, as the form lists them ("+50%")."""
        surcharges = self.game_def.option_surcharges()
        return [
            (self[option.field], f"+{surcharges[option.field] * 100:.0f}%")
            for option in self.game_def.options
            if option.field != "preferences"
        ]

    def preferences_row(self) -> tuple[forms.BoundField, str] | None:
        if "preferences" not in self.fields:
            return None
        return self["preferences"], f"+{self.game_def.option_surcharges()['preferences'] * 100:.0f}%"

    def options(self) -> OrderOptions:
        data = self.cleaned_data
        return OrderOptions(
            duo_queue=bool(data.get("duo_queue")),
            appear_offline=bool(data.get("appear_offline")),
            priority_start=bool(data.get("priority_start")),
            preferences=data.get("preferences") or "",
            region=data.get("region") or "",
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("game") and data["game"] != self.game_def.slug:
            self.add_error("game", games.GAME_UNKNOWN)
        if self.switched:
            self.add_error(None, GAME_SWITCHED.format(game=self.game_def.name))
        if self.errors:
            return data
        ladder = self.game_def.ladder
        current = (data["current_rank"], data["current_division"])
        if self._check("current_rank", ladder.validate, *current, data["current_points"]):
            desired = (data["desired_rank"], data["desired_division"])
            self._check("desired_rank", self._quote, current, desired)
        return data

    def _quote(self, current: tuple, desired: tuple) -> None:
        self.quote = self.game_def.quote(current=current, desired=desired, options=self.options())

    def initial_quote(self) -> games.Quote:
        """The price of the game's preset boost, shown before anything is chosen."""
        return self.game_def.quote(current=self.game_def.preset[0], desired=self.game_def.preset[1])

    def create_arguments(self) -> dict[str, Any]:
        """What services.order_create takes, from a valid form."""
        data = self.cleaned_data
        return {
            "game": self.game_def.slug,
            "current_rank": data["current_rank"],
            "current_division": data["current_division"],
            "current_points": data["current_points"],
            "desired_rank": data["desired_rank"],
            "desired_division": data["desired_division"],
            "options": self.options(),
        }


class ProgressForm(_LadderForm):
    """Where the booster reports the account is, on the order's game's ladder."""

    def __init__(self, data: Any = None, *, game: Game) -> None:
        self.game_def = game
        super().__init__(data)
        self._rank_fields("reached", points="reached_points")
        self._style()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not self.errors:
            reached = (data["reached_rank"], data["reached_division"], data["reached_points"])
            self._check("reached_rank", self.game_def.ladder.validate, *reached)
        return data


class StaffFilterForm(forms.Form):
    """The staff list's search, filter and sort (GET); anything invalid means "not filtered"."""

    q = forms.CharField(required=False, max_length=selectors.SEARCH_MAX_LENGTH, label="Search")
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *Order.Status.choices])
    game = forms.ChoiceField(required=False, choices=[("", "Any game"), *games.choices()])
    sort = forms.ChoiceField(
        required=False, choices=[("newest", "Newest first"), ("changed", "Last change first")], initial="newest"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "field py-1")
        self.fields["q"].widget.attrs.update(type="search", placeholder="Order, customer, booster or option")

    def filters(self) -> dict[str, str]:
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {name: data.get(name) or "" for name in self.fields}


class AssignForm(forms.Form):
    booster = forms.IntegerField(min_value=1)


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=[("in_progress", "In progress"), ("paused", "Paused")])
