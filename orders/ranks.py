"""League of Legends ranked ladder: tiers, divisions, LP and the derived progress.

The ladder is a line of "steps": every division of Iron..Diamond is one step
(IV is the lowest division of a tier), and each apex tier (Master, Grandmaster,
Challenger) is one step of its own because it has no divisions.
"""

from __future__ import annotations

from django.db import models


class Rank(models.TextChoices):
    IRON = "iron", "Iron"
    BRONZE = "bronze", "Bronze"
    SILVER = "silver", "Silver"
    GOLD = "gold", "Gold"
    PLATINUM = "platinum", "Platinum"
    EMERALD = "emerald", "Emerald"
    DIAMOND = "diamond", "Diamond"
    MASTER = "master", "Master"
    GRANDMASTER = "grandmaster", "Grandmaster"
    CHALLENGER = "challenger", "Challenger"


class Division(models.IntegerChoices):
    IV = 4, "IV"
    III = 3, "III"
    II = 2, "II"
    I = 1, "I"  # noqa: E741 - the division is called "I"


RANK_ORDER: list[str] = list(Rank.values)
APEX_RANKS = frozenset({Rank.MASTER, Rank.GRANDMASTER, Rank.CHALLENGER})
DIVISIONAL_RANKS = [rank for rank in RANK_ORDER if rank not in APEX_RANKS]
# A division is promoted at 100 LP; apex tiers count LP without a ceiling, this is
# only a sanity bound for input.
LP_MAX_DIVISION = 100
LP_MAX_APEX = 5000

RANK_UNKNOWN = "Unknown rank."
DIVISION_REQUIRED = "{rank} needs a division (IV to I)."
DIVISION_NOT_ALLOWED = "{rank} has no divisions."
LP_OUT_OF_RANGE = "LP must be between 0 and {limit}."
BELOW_START = "Progress can't be below where the order started ({start})."
PAST_GOAL = "Progress can't go past the order's goal ({goal})."


class RankError(ValueError):
    """An impossible rank/division/LP combination; the text is safe to show."""


def has_divisions(rank: str) -> bool:
    return rank not in APEX_RANKS


def validate(rank: str, division: int | None, lp: int | None = 0) -> None:
    if rank not in RANK_ORDER:
        raise RankError(RANK_UNKNOWN)
    label = Rank(rank).label
    if has_divisions(rank):
        if division not in Division.values:
            raise RankError(DIVISION_REQUIRED.format(rank=label))
    elif division is not None:
        raise RankError(DIVISION_NOT_ALLOWED.format(rank=label))
    limit = LP_MAX_DIVISION if has_divisions(rank) else LP_MAX_APEX
    if lp is not None and not 0 <= lp <= limit:
        raise RankError(LP_OUT_OF_RANGE.format(limit=limit))


def step(rank: str, division: int | None) -> int:
    """Position on the ladder: Iron IV is 0, Diamond I is 27, Challenger is 30."""
    if has_divisions(rank):
        return DIVISIONAL_RANKS.index(rank) * 4 + (4 - int(division or 4))
    return len(DIVISIONAL_RANKS) * 4 + RANK_ORDER.index(rank) - len(DIVISIONAL_RANKS)


def rank_of_step(index: int) -> str:
    divisional_steps = len(DIVISIONAL_RANKS) * 4
    if index < divisional_steps:
        return DIVISIONAL_RANKS[index // 4]
    return RANK_ORDER[len(DIVISIONAL_RANKS) + index - divisional_steps]


def position(rank: str, division: int | None, lp: int | None) -> float:
    """The step plus how far into it the LP gets you (apex LP does not promote)."""
    base = float(step(rank, division))
    if has_divisions(rank) and lp:
        base += min(lp, LP_MAX_DIVISION - 1) / LP_MAX_DIVISION
    return base


def label(rank: str | None, division: int | None) -> str:
    if not rank:
        return ""
    name = Rank(rank).label
    if has_divisions(rank) and division:
        return f"{name} {Division(division).label}"
    return name


def progress_percent(
    *,
    start: tuple[str, int | None, int | None],
    reached: tuple[str, int | None, int | None],
    desired: tuple[str, int | None],
) -> int:
    """0..100: how much of the way from `start` to `desired` `reached` covers."""
    begin = position(*start)
    end = float(step(*desired))
    if end <= begin:
        return 100
    done = (position(*reached) - begin) / (end - begin)
    return int(max(0.0, min(1.0, done)) * 100)


def check_between(
    *,
    start: tuple[str, int | None, int | None],
    reached: tuple[str, int | None, int | None],
    desired: tuple[str, int | None],
) -> None:
    """`reached` must lie from `start` (LP included) up to the goal's division
    (any LP in it: a win after the promotion is still the goal)."""
    if position(*reached) < position(*start):
        raise RankError(BELOW_START.format(start=f"{label(start[0], start[1])} {start[2] or 0} LP"))
    if step(reached[0], reached[1]) > step(*desired):
        raise RankError(PAST_GOAL.format(goal=label(*desired)))
