"""What a game is: its ladder, its price table, the options it sells and how
they change the price. Prices are computed here, on the server, and nowhere else.

A boost is priced per ladder step (one division, or one apex tier); each step
costs the price of the tier it starts in, so Silver II -> Gold IV is two Silver
steps. Points already earned do not discount a step: gains per game vary too
much to promise a cheaper first division. Each option the customer picks adds
its surcharge, a fraction of that ladder price; the region is free.

Each game names its two settings (its step prices and its option surcharges);
config/settings.py holds the defaults and reads the environment overrides,
README.md "Pricing" shows them. They are read on every quote, so a changed
setting prices the next order; existing orders keep the price they were placed at.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from orders.games.ladder import Ladder, LadderError, Rung

CENTS = Decimal("0.01")
PREFERENCES_MAX_LENGTH = 120

TABLE_INCOMPLETE = "{setting} needs a price for every tier below {top}; missing: {keys}."
TABLE_UNKNOWN_TIER = "{setting} has unknown tiers: {keys}."
PRICE_INVALID = "{setting}[{key!r}] must be a price of at least 0, not {value!r}."
OPTIONS_INCOMPLETE = "{setting} needs a surcharge for every option; missing: {keys}."
OPTIONS_UNKNOWN = "{setting} has unknown options: {keys}."
SURCHARGE_INVALID = "{setting}[{key!r}] must be a fraction of at least 0, not {value!r}."
SHARE_INVALID = "ORDERS_BOOSTER_SHARE must be a fraction between 0 and 1, not {value!r}."

OPTION_NOT_OFFERED = "{game} orders don't offer {option}."
REGION_UNKNOWN = "Pick one of the {game} servers."
PREFERENCES_TOO_LONG = f"Keep your preferences to {PREFERENCES_MAX_LENGTH} characters."


@dataclass(frozen=True)
class Option:
    """Something the customer may add to a boost; `field` names it on the
    order, in the form and in the surcharge table."""

    field: str
    label: str
    help: str


DUO_QUEUE = Option("duo_queue", "Duo queue", "You play together with your booster, on your account.")
APPEAR_OFFLINE = Option("appear_offline", "Appear offline", "Your friends don't see the booster playing.")
PRIORITY_START = Option("priority_start", "Priority start", "Your order tops every booster's claim list.")


@dataclass(frozen=True)
class OrderOptions:
    """What the customer picked. `preferences` is free text (roles, champions,
    agents), shown escaped; `region` is one of the game's server codes."""

    duo_queue: bool = False
    appear_offline: bool = False
    priority_start: bool = False
    preferences: str = ""
    region: str = ""

    def picked(self) -> list[str]:
        """The priced options chosen: the switches that are on, and preferences when given."""
        return [item.name for item in fields(self) if item.name != "region" and getattr(self, item.name)]


@dataclass(frozen=True)
class Quote:
    base: Decimal  # the ladder steps
    extras: tuple[tuple[str, Decimal], ...]  # (option label, surcharge), in the form's order
    price: Decimal  # what the customer pays
    booster_price: Decimal
    steps: int


def _decimal(value: object) -> Decimal | None:
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _amounts(
    setting: str, keys: list[str], *, unknown: str, missing: str, invalid: str, **more: str
) -> dict[str, Decimal]:
    """The setting's table of amounts of at least 0, one for each of `keys` and
    nothing else; a typo in settings fails loudly, never prices at 0. The messages
    are formatted with `setting`, `keys` (or `key` and `value`) and `more`."""
    table = dict(getattr(settings, setting))
    if extra := sorted(set(table) - set(keys)):
        raise ImproperlyConfigured(unknown.format(setting=setting, keys=", ".join(extra), **more))
    if absent := [key for key in keys if key not in table]:
        raise ImproperlyConfigured(missing.format(setting=setting, keys=", ".join(absent), **more))
    amounts: dict[str, Decimal] = {}
    for key in keys:
        amount = _decimal(table[key])
        if amount is None or amount < 0:
            raise ImproperlyConfigured(invalid.format(setting=setting, key=key, value=table[key]))
        amounts[key] = amount
    return amounts


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENTS, rounding=ROUND_HALF_UP)


def booster_share() -> Decimal:
    share = _decimal(settings.ORDERS_BOOSTER_SHARE)
    if share is None or not 0 <= share <= 1:
        raise ImproperlyConfigured(SHARE_INVALID.format(value=settings.ORDERS_BOOSTER_SHARE))
    return share


@dataclass(frozen=True)
class Game:
    slug: str  # stored on every order
    name: str
    short_name: str  # on cards, where space is short
    name_prefix: str  # order names: LOL-000042
    ladder: Ladder
    options: tuple[Option, ...]  # what the form offers, in its order
    regions: tuple[tuple[str, str], ...]  # (code, label); the first is the default
    step_prices_setting: str
    option_prices_setting: str
    preset: tuple[Rung, Rung]  # the new-order form's start and goal before anyone chooses

    def __str__(self) -> str:
        return self.name

    # THE TABLES

    def priced_tiers(self) -> list[str]:
        # The top tier is the end of the ladder: no step starts there.
        return self.ladder.tier_values()[:-1]

    def step_prices(self) -> dict[str, Decimal]:
        """The configured price of one step up from each tier below the top."""
        return _amounts(
            self.step_prices_setting,
            self.priced_tiers(),
            unknown=TABLE_UNKNOWN_TIER,
            missing=TABLE_INCOMPLETE,
            invalid=PRICE_INVALID,
            top=self.ladder.top().label,
        )

    def option_surcharges(self) -> dict[str, Decimal]:
        """The configured surcharge (a fraction of the price) of each option offered."""
        return _amounts(
            self.option_prices_setting,
            [option.field for option in self.options],
            unknown=OPTIONS_UNKNOWN,
            missing=OPTIONS_INCOMPLETE,
            invalid=SURCHARGE_INVALID,
        )

    # ORDERS

    def region_label(self, code: str) -> str:
        return dict(self.regions).get(code, code)

    def clean_options(self, options: OrderOptions) -> OrderOptions:
        """The options as this game sells them; raises `LadderError` (a safe
        message) for one it does not offer, an unknown server or long text."""
        offered = {option.field for option in self.options}
        for name in options.picked():
            if name not in offered:
                raise LadderError(OPTION_NOT_OFFERED.format(game=self.name, option=name.replace("_", " ")))
        preferences = options.preferences.strip()
        if len(preferences) > PREFERENCES_MAX_LENGTH:
            raise LadderError(PREFERENCES_TOO_LONG)
        region = options.region or self.regions[0][0]
        if region not in dict(self.regions):
            raise LadderError(REGION_UNKNOWN.format(game=self.name))
        return OrderOptions(
            duo_queue=options.duo_queue,
            appear_offline=options.appear_offline,
            priority_start=options.priority_start,
            preferences=preferences,
            region=region,
        )

    def quote(self, *, current: Rung, desired: Rung, options: OrderOptions | None = None) -> Quote:
        """The price of a boost with its options; raises `LadderError` for an impossible one."""
        self.ladder.validate(*current, None)
        self.ladder.validate(*desired, None)
        self.ladder.check_goal_above(current, desired)
        options = self.clean_options(options or OrderOptions())
        start, end = self.ladder.step(*current), self.ladder.step(*desired)
        table = self.step_prices()
        base = _cents(sum((table[self.ladder.tier_of_step(index)] for index in range(start, end)), Decimal("0")))
        surcharges, picked = self.option_surcharges(), set(options.picked())
        extras = tuple(
            (option.label, _cents(base * surcharges[option.field])) for option in self.options if option.field in picked
        )
        price = base + sum((amount for _label, amount in extras), Decimal("0"))
        return Quote(
            base=base,
            extras=extras,
            price=price,
            booster_price=_cents(price * booster_share()),
            steps=end - start,
        )
