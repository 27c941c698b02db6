"""Valorant: rank boosts from Iron 1 to Immortal 3 and Radiant, in RR (0-100
within a rank). Radiant has no divisions."""

from __future__ import annotations

from orders.games.base import APPEAR_OFFLINE, DUO_QUEUE, PRIORITY_START, Game, Option
from orders.games.ladder import Ladder, Tier

DIVISIONS = (1, 2, 3)  # 1 is a tier's lowest rank

LADDER = Ladder(
    tiers=(
        *(
            Tier(value, value.capitalize(), DIVISIONS)
            for value in ("iron", "bronze", "silver", "gold", "platinum", "diamond", "ascendant", "immortal")
        ),
        Tier("radiant", "Radiant"),
    ),
    division_labels={1: "1", 2: "2", 3: "3"},
    points_name="RR",
)

GAME = Game(
    slug="valorant",
    name="Valorant",
    short_name="Valorant",
    name_prefix="VAL",
    ladder=LADDER,
    options=(
        DUO_QUEUE,
        APPEAR_OFFLINE,
        PRIORITY_START,
        Option("preferences", "Preferred agents or roles", "e.g. Jett, Reyna; duelist"),
    ),
    regions=(
        ("eu", "Europe"),
        ("na", "North America"),
        ("ap", "Asia Pacific"),
        ("kr", "Korea"),
        ("br", "Brazil"),
        ("latam", "Latin America"),
    ),
    step_prices_setting="ORDERS_VALORANT_STEP_PRICES",
    option_prices_setting="ORDERS_VALORANT_OPTION_PRICES",
    preset=(("gold", 2), ("platinum", 1)),
)
