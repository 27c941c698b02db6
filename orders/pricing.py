"""The price table: what a division boost costs, computed on the server only.

A boost is priced per ladder step (one division, or one apex tier). Each step
costs the price of the tier it starts in, so Silver II -> Gold IV is two Silver
steps. Current LP does not discount a step: LP gains per game vary too much to
promise a cheaper first division.

Override in settings without touching code:

    ORDERS_STEP_PRICES = {"silver": "9.00", ...}  # merged over the defaults
    ORDERS_BOOSTER_SHARE = "0.70"                   # booster's cut of the price
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings

from orders import ranks
from orders.ranks import Rank

CENTS = Decimal("0.01")

DEFAULT_STEP_PRICES: dict[str, Decimal] = {
    Rank.IRON: Decimal("5.00"),
    Rank.BRONZE: Decimal("6.00"),
    Rank.SILVER: Decimal("8.00"),
    Rank.GOLD: Decimal("11.00"),
    Rank.PLATINUM: Decimal("15.00"),
    Rank.EMERALD: Decimal("20.00"),
    Rank.DIAMOND: Decimal("35.00"),
    Rank.MASTER: Decimal("120.00"),  # Master -> Grandmaster
    Rank.GRANDMASTER: Decimal("250.00"),  # Grandmaster -> Challenger
}
DEFAULT_BOOSTER_SHARE = Decimal("0.70")

DESIRED_NOT_HIGHER = "The desired rank must be above the current rank."


@dataclass(frozen=True)
class Quote:
    price: Decimal
    booster_price: Decimal
    steps: int


def step_prices() -> dict[str, Decimal]:
    overrides = getattr(settings, "ORDERS_STEP_PRICES", None) or {}
    return {**DEFAULT_STEP_PRICES, **{str(rank): Decimal(str(price)) for rank, price in overrides.items()}}


def booster_share() -> Decimal:
    return Decimal(str(getattr(settings, "ORDERS_BOOSTER_SHARE", DEFAULT_BOOSTER_SHARE)))


def quote(*, current_rank: str, current_division: int | None, desired_rank: str, desired_division: int | None) -> Quote:
    """Price of a boost; raises `ranks.RankError` for an impossible request."""
    ranks.validate(current_rank, current_division)
    ranks.validate(desired_rank, desired_division)
    start = ranks.step(current_rank, current_division)
    end = ranks.step(desired_rank, desired_division)
    if end <= start:
        raise ranks.RankError(DESIRED_NOT_HIGHER)
    table = step_prices()
    price = sum((table[ranks.rank_of_step(index)] for index in range(start, end)), Decimal("0"))
    price = price.quantize(CENTS, rounding=ROUND_HALF_UP)
    booster_price = (price * booster_share()).quantize(CENTS, rounding=ROUND_HALF_UP)
    return Quote(price=price, booster_price=booster_price, steps=end - start)
