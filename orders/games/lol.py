"""League of Legends: division boosts on the ranked ladder, Iron IV to
Challenger, in LP. Master, Grandmaster and Challenger have no divisions."""

from __future__ import annotations

from orders.games.base import APPEAR_OFFLINE, DUO_QUEUE, PRIORITY_START, Game, Option
from orders.games.ladder import Ladder, Tier

DIVISIONS = (4, 3, 2, 1)  # IV is a tier's lowest division
# Apex LP counts without a ceiling; this is only a sanity bound for input.
APEX_LP_MAX = 5000

LADDER = Ladder(
    tiers=(
        *(
            Tier(value, value.capitalize(), DIVISIONS)
            for value in ("iron", "bronze", "silver", "gold", "platinum", "emerald", "diamond")
        ),
        Tier("master", "Master", points_max=APEX_LP_MAX),
        Tier("grandmaster", "Grandmaster", points_max=APEX_LP_MAX),
        Tier("challenger", "Challenger", points_max=APEX_LP_MAX),
    ),
    division_labels={4: "IV", 3: "III", 2: "II", 1: "I"},
    points_name="LP",
)

GAME = Game(
    slug="lol",
    name="League of Legends",
    short_name="LoL",
    name_prefix="LOL",
    ladder=LADDER,
    options=(
        DUO_QUEUE,
        APPEAR_OFFLINE,
        PRIORITY_START,
        Option("preferences", "Preferred roles or champions", "e.g. mid or support; Ahri, Lux"),
    ),
    regions=(
        ("euw", "EU West"),
        ("eune", "EU Nordic & East"),
        ("na", "North America"),
        ("kr", "Korea"),
        ("br", "Brazil"),
        ("lan", "Latin America North"),
        ("las", "Latin America South"),
        ("oce", "Oceania"),
        ("tr", "Turkey"),
        ("jp", "Japan"),
    ),
    step_prices_setting="ORDERS_STEP_PRICES",
    option_prices_setting="ORDERS_LOL_OPTION_PRICES",
    preset=(("silver", 2), ("gold", 4)),
)
