"""The price table: what a division boost costs, computed on the server only.

A boost is priced per ladder step (one division, or one apex tier). Each step
costs the price of the tier it starts in, so Silver II -> Gold IV is two Silver
steps. Current LP does not discount a step: LP gains per game vary too much to
promise a cheaper first division.

The table is `settings.ORDERS_STEP_PRICES` (tier -> price of one step starting in
it, every tier below Challenger) and `settings.ORDERS_BOOSTER_SHARE` (the
booster's cut); config/settings.py holds the defaults and reads the environment
overrides, README.md "Pricing" shows them. They are read on every quote, so a
changed setting prices the next order.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from orders import ranks
from orders.ranks import Rank

CENTS = Decimal("0.01")
# Challenger is the top: no step starts there.
PRICED_TIERS: list[str] = [rank for rank in ranks.RANK_ORDER if rank != Rank.CHALLENGER]

TABLE_INCOMPLETE = "ORDERS_STEP_PRICES needs a price for every tier below Challenger; missing: {tiers}."
TABLE_UNKNOWN_TIER = "ORDERS_STEP_PRICES has unknown tiers: {tiers}."
PRICE_INVALID = "ORDERS_STEP_PRICES[{tier!r}] must be a price of at least 0, not {value!r}."
SHARE_INVALID = "ORDERS_BOOSTER_SHARE must be a fraction between 0 and 1, not {value!r}."

DESIRED_NOT_HIGHER = "The desired rank must be above the current rank."


@dataclass(frozen=True)
class Quote:
    price: Decimal
    booster_price: Decimal
    steps: int


def _decimal(value: object) -> Decimal | None:
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def step_prices() -> dict[str, Decimal]:
    """The configured table, checked: a typo in settings fails loudly, never prices at 0."""
    table = dict(settings.ORDERS_STEP_PRICES)
    if unknown := sorted(set(table) - set(PRICED_TIERS)):
        raise ImproperlyConfigured(TABLE_UNKNOWN_TIER.format(tiers=", ".join(unknown)))
    if missing := [tier for tier in PRICED_TIERS if tier not in table]:
        raise ImproperlyConfigured(TABLE_INCOMPLETE.format(tiers=", ".join(missing)))
    prices: dict[str, Decimal] = {}
    for tier in PRICED_TIERS:
        price = _decimal(table[tier])
        if price is None or price < 0:
            raise ImproperlyConfigured(PRICE_INVALID.format(tier=tier, value=table[tier]))
        prices[tier] = price
    return prices


def booster_share() -> Decimal:
    share = _decimal(settings.ORDERS_BOOSTER_SHARE)
    if share is None or not 0 <= share <= 1:
        raise ImproperlyConfigured(SHARE_INVALID.format(value=settings.ORDERS_BOOSTER_SHARE))
    return share


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
