"""A ranked ladder: tiers, their divisions and points, and where an account
stands on it. Every game's module builds one (orders/games/lol.py, valorant.py).

The ladder is a line of "steps": each division of a tier is one step, lowest
first, and a tier without divisions (an apex tier: Master, Radiant) is one step
of its own. Points (LP, RR) move an account through a division and promote it
at the division's maximum; in an apex tier they count without promoting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

RANK_UNKNOWN = "Unknown rank."
DIVISION_REQUIRED = "{rank} needs a division ({low} to {high})."
DIVISION_NOT_ALLOWED = "{rank} has no divisions."
POINTS_OUT_OF_RANGE = "{points} must be between 0 and {limit}."
DESIRED_NOT_HIGHER = "The desired rank must be above the current rank."
BELOW_START = "Progress can't be below where the order started ({start})."
PAST_GOAL = "Progress can't go past the order's goal ({goal})."

# (tier, division, points) and (tier, division): where an account is, and a goal.
Standing = tuple[str, int | None, int | None]
Rung = tuple[str, int | None]


class LadderError(ValueError):
    """An impossible tier/division/points combination; the text is safe to show."""


@dataclass(frozen=True)
class Tier:
    value: str  # stored on orders, e.g. "gold"
    label: str
    divisions: tuple[int, ...] = ()  # stored division values, lowest first; () for an apex tier
    points_max: int = 100  # a division promotes here; an apex tier's input bound


@dataclass(frozen=True)
class Ladder:
    tiers: tuple[Tier, ...]  # lowest first
    division_labels: Mapping[int, str]
    points_name: str  # what a point is called: "LP", "RR"
    _by_value: dict[str, Tier] = field(init=False, repr=False, compare=False)
    _rungs: list[Rung] = field(init=False, repr=False, compare=False)
    _steps: dict[Rung, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        rungs: list[Rung] = [(tier.value, division) for tier in self.tiers for division in (tier.divisions or (None,))]
        object.__setattr__(self, "_by_value", {tier.value: tier for tier in self.tiers})
        object.__setattr__(self, "_rungs", rungs)
        object.__setattr__(self, "_steps", {rung: index for index, rung in enumerate(rungs)})

    # READING

    def tier(self, value: str) -> Tier:
        try:
            return self._by_value[value]
        except KeyError:
            raise LadderError(RANK_UNKNOWN) from None

    def tier_index(self, value: str) -> int:
        """0 for the lowest tier: what a booster's approval "up to" compares."""
        return self.tiers.index(self.tier(value))

    def tier_values(self, *, up_to: int | None = None) -> list[str]:
        tiers = self.tiers if up_to is None else self.tiers[: up_to + 1]
        return [tier.value for tier in tiers]

    def top(self) -> Tier:
        return self.tiers[-1]

    def tier_choices(self) -> list[tuple[str, str]]:
        return [(tier.value, tier.label) for tier in self.tiers]

    def division_choices(self) -> list[tuple[int, str]]:
        """Every division value any tier uses, lowest first."""
        seen: list[int] = []
        for tier in self.tiers:
            seen.extend(division for division in tier.divisions if division not in seen)
        return [(division, self.division_labels[division]) for division in seen]

    def apex_labels(self) -> list[str]:
        """The tiers without divisions, e.g. ["Radiant"]."""
        return [tier.label for tier in self.tiers if not tier.divisions]

    def points_limit(self) -> int:
        return max(tier.points_max for tier in self.tiers)

    def label(self, tier: str | None, division: int | None) -> str:
        if not tier:
            return ""
        known = self._by_value.get(tier)
        if known is None:
            return tier
        if known.divisions and division in self.division_labels:
            return f"{known.label} {self.division_labels[division]}"
        return known.label

    def label_with_points(self, tier: str, division: int | None, points: int | None) -> str:
        return f"{self.label(tier, division)} {points or 0} {self.points_name}"

    # CHECKING

    def validate(self, tier: str, division: int | None, points: int | None = 0) -> None:
        known = self.tier(tier)
        if known.divisions:
            if division not in known.divisions:
                low, high = (self.division_labels[known.divisions[end]] for end in (0, -1))
                raise LadderError(DIVISION_REQUIRED.format(rank=known.label, low=low, high=high))
        elif division is not None:
            raise LadderError(DIVISION_NOT_ALLOWED.format(rank=known.label))
        if points is not None and not 0 <= points <= known.points_max:
            raise LadderError(POINTS_OUT_OF_RANGE.format(points=self.points_name, limit=known.points_max))

    def check_goal_above(self, start: Rung, goal: Rung) -> None:
        if self.step(*goal) <= self.step(*start):
            raise LadderError(DESIRED_NOT_HIGHER)

    def check_between(self, *, start: Standing, reached: Standing, goal: Rung) -> None:
        """`reached` must lie from `start` (points included) up to the goal's
        division (any points in it: a win after the promotion is still the goal)."""
        if self.position(*reached) < self.position(*start):
            raise LadderError(BELOW_START.format(start=self.label_with_points(*start)))
        if self.step(reached[0], reached[1]) > self.step(*goal):
            raise LadderError(PAST_GOAL.format(goal=self.label(*goal)))

    # MEASURING

    def step(self, tier: str, division: int | None) -> int:
        """Position on the ladder: 0 for the lowest division of the lowest tier."""
        try:
            return self._steps[(tier, division if self.tier(tier).divisions else None)]
        except KeyError:
            raise LadderError(RANK_UNKNOWN) from None

    def tier_of_step(self, index: int) -> str:
        return self._rungs[index][0]

    def position(self, tier: str, division: int | None, points: int | None) -> float:
        """The step plus how far into it the points get you (apex points do not promote)."""
        known = self.tier(tier)
        base = float(self.step(tier, division))
        if known.divisions and points:
            base += min(points, known.points_max - 1) / known.points_max
        return base

    def progress_percent(self, *, start: Standing, reached: Standing, goal: Rung) -> int:
        """0..100: how much of the way from `start` to `goal` `reached` covers."""
        begin = self.position(*start)
        end = float(self.step(*goal))
        if end <= begin:
            return 100
        done = (self.position(*reached) - begin) / (end - begin)
        # Whole percents, rounded down; the epsilon keeps 0.4 from reading as 39.
        return int(max(0.0, min(1.0, done)) * 100 + 1e-9)
