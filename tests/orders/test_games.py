"""Each game's module: its ladder (tiers, divisions, points), how far an order
has come on it, its price table and options, and the settings and README that
configure and document them."""

from __future__ import annotations

import re
import runpy
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config import settings as settings_module
from orders import games, services
from orders.games import OrderOptions, base, ladder
from orders.models import Order
from tests.orders.conftest import Status, approve, place

pytestmark = pytest.mark.django_db

LOL, VALORANT = games.get("lol"), games.get("valorant")
CENTS = Decimal("0.01")


def share(price: str) -> Decimal:
    return (Decimal(price) * Decimal("0.70")).quantize(CENTS)


# LADDERS


def test_every_game_is_registered_once_with_its_own_prefix():
    assert list(games.GAMES) == ["lol", "valorant"]
    assert games.choices() == [("lol", "League of Legends"), ("valorant", "Valorant")]
    assert len({game.name_prefix for game in games.GAMES.values()}) == len(games.GAMES)
    with pytest.raises(games.LadderError, match=games.GAME_UNKNOWN):
        games.get("chess")


def test_league_ladder_runs_iron_iv_to_challenger_in_lp():
    rungs = LOL.ladder
    assert rungs.step("iron", 4) == 0 and rungs.step("diamond", 1) == 27
    assert rungs.step("master", None) == rungs.step("diamond", 1) + 1
    assert rungs.step("challenger", None) == rungs.step("grandmaster", None) + 1 == 30
    assert (rungs.label("silver", 2), rungs.label("grandmaster", None)) == ("Silver II", "Grandmaster")
    assert rungs.points_name == "LP" and rungs.apex_labels() == ["Master", "Grandmaster", "Challenger"]
    rungs.validate("master", None, 1200)  # apex LP has no ceiling of 100


def test_valorant_ladder_runs_iron_1_to_immortal_3_and_radiant_in_rr():
    rungs = VALORANT.ladder
    assert rungs.tier_values() == [
        "iron",
        "bronze",
        "silver",
        "gold",
        "platinum",
        "diamond",
        "ascendant",
        "immortal",
        "radiant",
    ]
    assert rungs.step("iron", 1) == 0 and rungs.step("iron", 3) == 2 and rungs.step("bronze", 1) == 3
    assert rungs.step("immortal", 3) == 23 and rungs.step("radiant", None) == 24
    assert (rungs.label("gold", 2), rungs.label("radiant", None)) == ("Gold 2", "Radiant")
    assert rungs.points_name == "RR" and rungs.division_choices() == [(1, "1"), (2, "2"), (3, "3")]


@pytest.mark.parametrize(
    "game, rank, error",
    [
        (VALORANT, ("gold", 4, 0), ladder.DIVISION_REQUIRED.format(rank="Gold", low="1", high="3")),
        (VALORANT, ("radiant", 1, 0), ladder.DIVISION_NOT_ALLOWED.format(rank="Radiant")),
        (VALORANT, ("gold", 2, 101), ladder.POINTS_OUT_OF_RANGE.format(points="RR", limit=100)),
        (VALORANT, ("emerald", 2, 0), ladder.RANK_UNKNOWN),  # a League tier
        (LOL, ("gold", None, 0), ladder.DIVISION_REQUIRED.format(rank="Gold", low="IV", high="I")),
        (LOL, ("master", 1, 0), ladder.DIVISION_NOT_ALLOWED.format(rank="Master")),
        (LOL, ("gold", 2, 101), ladder.POINTS_OUT_OF_RANGE.format(points="LP", limit=100)),
        (LOL, ("ascendant", 2, 0), ladder.RANK_UNKNOWN),  # a Valorant tier
    ],
)
def test_impossible_ranks_are_refused_in_the_games_words(game, rank, error):
    with pytest.raises(ladder.LadderError) as raised:
        game.ladder.validate(*rank)
    assert str(raised.value) == error


# PROGRESS: START, MIDDLE, GOAL, AND OUT OF RANGE REFUSED

PROGRESS = [
    # game, start, goal, reached, percent
    (LOL, ("silver", 2, 0), ("gold", 4), ("silver", 2, 0), 0),
    (LOL, ("silver", 2, 0), ("gold", 4), ("silver", 2, 50), 25),
    (LOL, ("silver", 2, 0), ("gold", 4), ("silver", 1, 50), 75),
    (LOL, ("silver", 2, 0), ("gold", 4), ("gold", 4, 0), 100),
    (LOL, ("diamond", 1, 0), ("grandmaster", None), ("master", None, 400), 50),  # apex LP does not promote
    (VALORANT, ("gold", 2, 0), ("platinum", 1), ("gold", 2, 0), 0),
    (VALORANT, ("gold", 2, 0), ("platinum", 1), ("gold", 3, 0), 50),
    (VALORANT, ("gold", 2, 0), ("platinum", 1), ("gold", 3, 50), 75),
    (VALORANT, ("gold", 2, 0), ("platinum", 1), ("platinum", 1, 0), 100),
    (VALORANT, ("immortal", 3, 0), ("radiant", None), ("immortal", 3, 40), 40),
]


@pytest.mark.parametrize("game, start, goal, reached, percent", PROGRESS)
def test_progress_from_start_to_goal(game, start, goal, reached, percent):
    game.ladder.check_between(start=start, reached=reached, goal=goal)
    assert game.ladder.progress_percent(start=start, reached=reached, goal=goal) == percent


@pytest.mark.parametrize(
    "game, start, goal, reached, error",
    [
        (VALORANT, ("gold", 2, 30), ("platinum", 1), ("gold", 2, 10), ladder.BELOW_START.format(start="Gold 2 30 RR")),
        (VALORANT, ("gold", 2, 0), ("platinum", 1), ("platinum", 2, 0), ladder.PAST_GOAL.format(goal="Platinum 1")),
        (VALORANT, ("gold", 2, 0), ("platinum", 1), ("iron", 1, 0), ladder.BELOW_START.format(start="Gold 2 0 RR")),
        (LOL, ("silver", 2, 0), ("gold", 4), ("diamond", 1, 60), ladder.PAST_GOAL.format(goal="Gold IV")),
    ],
)
def test_progress_outside_start_and_goal_is_refused(game, start, goal, reached, error):
    with pytest.raises(ladder.LadderError) as raised:
        game.ladder.check_between(start=start, reached=reached, goal=goal)
    assert str(raised.value) == error


def _valorant_order(people, **options):
    return place(
        people["customer"],
        game="valorant",
        current_rank="gold",
        current_division=2,
        current_points=0,
        desired_rank="platinum",
        desired_division=1,
        options=OrderOptions(**options),
    )


def test_a_valorant_order_reports_progress_in_rr(people):
    approve(people["booster"], "valorant", "radiant", by=people["admin"])
    order = services.order_claim(order=_valorant_order(people), booster=people["booster"])
    assert order.name == f"VAL-{order.pk:06d}" and order.points_name == "RR"
    order = services.order_progress_update(
        order=order, booster=people["booster"], reached_rank="gold", reached_division=3, reached_points=50
    )
    assert (order.progress, order.status) == (75, Status.IN_PROGRESS)
    assert order.events.latest("id").message == "Reached Gold 3 50 RR (75%)"
    with pytest.raises(services.OrderError, match=re.escape(ladder.PAST_GOAL.format(goal="Platinum 1"))):
        services.order_progress_update(
            order=order, booster=people["booster"], reached_rank="diamond", reached_division=1, reached_points=0
        )
    with pytest.raises(services.OrderError, match=re.escape(ladder.POINTS_OUT_OF_RANGE.format(points="RR", limit=100))):
        services.order_progress_update(
            order=order, booster=people["booster"], reached_rank="gold", reached_division=3, reached_points=150
        )
    assert Order.objects.get(pk=order.pk).reached == ("gold", 3, 50)


# PRICE TABLES


@pytest.mark.parametrize(
    "game, current, desired, price, steps",
    [
        (LOL, ("silver", 2), ("gold", 4), "16.00", 2),  # two Silver steps at 8.00
        (LOL, ("iron", 4), ("iron", 3), "5.00", 1),
        (LOL, ("gold", 1), ("platinum", 3), "26.00", 2),  # one Gold step (11) + one Platinum step (15)
        (LOL, ("diamond", 1), ("master", None), "35.00", 1),
        (LOL, ("master", None), ("challenger", None), "370.00", 2),  # 120 + 250
        (LOL, ("iron", 4), ("challenger", None), "770.00", 30),  # 4 x (5+6+8+11+15+20+35) + 120 + 250
        (VALORANT, ("gold", 2), ("platinum", 1), "18.00", 2),  # two Gold steps at 9.00
        (VALORANT, ("iron", 1), ("bronze", 1), "12.00", 3),
        (VALORANT, ("immortal", 3), ("radiant", None), "60.00", 1),
        (VALORANT, ("iron", 1), ("radiant", None), "429.00", 24),  # 3 x (4+5+7+9+12+18+28+60)
    ],
)
def test_price_tables(game, current, desired, price, steps):
    quote = game.quote(current=current, desired=desired)
    assert (quote.price, quote.base, quote.extras, quote.steps) == (Decimal(price), Decimal(price), (), steps)
    assert quote.booster_price == share(price)


@pytest.mark.parametrize(
    "game, options, extras, price",
    [
        (VALORANT, {"duo_queue": True}, [("Duo queue", "10.80")], "28.80"),
        (
            VALORANT,
            {"duo_queue": True, "priority_start": True},
            [("Duo queue", "10.80"), ("Priority start", "3.60")],
            "32.40",
        ),
        (
            VALORANT,
            {"appear_offline": True, "preferences": "Jett"},
            [("Appear offline", "0.90"), ("Preferred agents or roles", "1.80")],
            "20.70",
        ),
        (VALORANT, {"preferences": "   ", "region": "ap"}, [], "18.00"),  # blank text and a server are free
        (
            LOL,
            {"duo_queue": True, "appear_offline": True},
            [("Duo queue", "8.00"), ("Appear offline", "0.80")],
            "24.80",
        ),
    ],
)
def test_options_add_their_surcharge_to_the_ladder_price(game, options, extras, price):
    current, desired = game.preset
    quote = game.quote(current=current, desired=desired, options=OrderOptions(**options))
    assert [(label, str(amount)) for label, amount in quote.extras] == extras
    assert quote.price == Decimal(price) and quote.booster_price == share(price)


def test_options_are_checked_against_the_game(settings):
    current, desired = VALORANT.preset
    for options, error in (
        ({"region": "euw"}, base.REGION_UNKNOWN.format(game="Valorant")),  # a League server
        ({"preferences": "x" * 121}, base.PREFERENCES_TOO_LONG),
    ):
        with pytest.raises(ladder.LadderError) as raised:
            VALORANT.quote(current=current, desired=desired, options=OrderOptions(**options))
        assert str(raised.value) == error
    assert VALORANT.clean_options(OrderOptions()).region == "eu"  # a game's first server when none is said


def test_changing_a_games_settings_changes_its_next_price(settings, people):
    settings.ORDERS_VALORANT_STEP_PRICES = {**settings.ORDERS_VALORANT_STEP_PRICES, "gold": "10.00"}
    settings.ORDERS_VALORANT_OPTION_PRICES = {**settings.ORDERS_VALORANT_OPTION_PRICES, "duo_queue": "1"}
    settings.ORDERS_BOOSTER_SHARE = "0.5"
    order = _valorant_order(people, duo_queue=True)
    assert (order.price, order.booster_price) == (Decimal("40.00"), Decimal("20.00"))
    assert place(people["customer"]).price == Decimal("16.00")  # League's table is its own


def test_the_price_tables_are_read_from_the_environment(monkeypatch):
    """config/settings.py merges NAME=key=value,... over each table's defaults."""
    monkeypatch.setenv("ORDERS_STEP_PRICES", "Silver=9.25, gold = 12")
    monkeypatch.setenv("ORDERS_VALORANT_STEP_PRICES", "immortal=70")
    monkeypatch.setenv("ORDERS_LOL_OPTION_PRICES", "duo_queue=0.4")
    monkeypatch.setenv("ORDERS_VALORANT_OPTION_PRICES", "priority_start=0.3")
    monkeypatch.setenv("ORDERS_BOOSTER_SHARE", "0.6")
    loaded = runpy.run_path(str(Path(settings_module.__file__)))
    lol_steps, valorant_steps = loaded["ORDERS_STEP_PRICES"], loaded["ORDERS_VALORANT_STEP_PRICES"]
    assert (lol_steps["silver"], lol_steps["gold"], lol_steps["iron"]) == ("9.25", "12", "5.00")
    assert (valorant_steps["immortal"], valorant_steps["gold"]) == ("70", "9.00")
    assert loaded["ORDERS_LOL_OPTION_PRICES"]["duo_queue"] == "0.4"
    assert loaded["ORDERS_VALORANT_OPTION_PRICES"]["priority_start"] == "0.3"
    assert loaded["ORDERS_BOOSTER_SHARE"] == "0.6"


def _readme_table(settings, heading: str) -> dict[str, str]:
    readme = (Path(settings.BASE_DIR) / "README.md").read_text()
    section = readme.split("## Pricing", 1)[1].split("\n## ", 1)[0]
    table = section.split(f"### {heading}", 1)[1].split("\n### ", 1)[0]
    rows = re.findall(r"^\| (\w[\w ]*?)(?: \([^)]*\))? \| ([^|]+?) \| ([^|]+?) \|$", table, flags=re.MULTILINE)
    price = re.compile(r"^(\$[\d.]+|\+\d+%|—)$")
    return {
        name.strip().lower(): (lol, valorant)
        for name, lol, valorant in rows
        if price.match(lol) and price.match(valorant)  # not the header
    }


def test_the_readme_shows_every_configured_price(settings):
    steps = _readme_table(settings, "Ladder steps")
    for game, setting, column in ((LOL, "ORDERS_STEP_PRICES", 0), (VALORANT, "ORDERS_VALORANT_STEP_PRICES", 1)):
        shown = {tier: prices[column] for tier, prices in steps.items() if prices[column] != "—"}
        assert shown == {tier: f"${price}" for tier, price in getattr(settings, setting).items()}, game
    options = _readme_table(settings, "Options")
    for game, setting, column in (
        (LOL, "ORDERS_LOL_OPTION_PRICES", 0),
        (VALORANT, "ORDERS_VALORANT_OPTION_PRICES", 1),
    ):
        for field, rate in getattr(settings, setting).items():
            assert options[field.replace("_", " ")][column] == f"+{Decimal(rate) * 100:.0f}%", (game, field)


@pytest.mark.parametrize(
    "setting, changes, dropped, share_value, error",
    [
        ("ORDERS_STEP_PRICES", {}, ("iron", "gold"), "0.7", "every tier below Challenger; missing: iron, gold"),
        ("ORDERS_VALORANT_STEP_PRICES", {}, ("immortal",), "0.7", "below Radiant; missing: immortal"),
        ("ORDERS_VALORANT_STEP_PRICES", {"emerald": "1"}, (), "0.7", "has unknown tiers: emerald"),
        ("ORDERS_VALORANT_STEP_PRICES", {"gold": "-1"}, (), "0.7", "_STEP_PRICES['gold'] must be a price"),
        ("ORDERS_STEP_PRICES", {"gold": "cheap"}, (), "0.7", "ORDERS_STEP_PRICES['gold'] must be a price"),
        ("ORDERS_VALORANT_OPTION_PRICES", {}, ("duo_queue",), "0.7", "every option; missing: duo_queue"),
        ("ORDERS_VALORANT_OPTION_PRICES", {"boost_faster": "1"}, (), "0.7", "has unknown options: boost_faster"),
        ("ORDERS_VALORANT_OPTION_PRICES", {"duo_queue": "-0.5"}, (), "0.7", "['duo_queue'] must be a fraction"),
        ("ORDERS_STEP_PRICES", {}, (), "1.5", "ORDERS_BOOSTER_SHARE must be a fraction"),
    ],
)  # fmt: skip
def test_a_broken_price_table_fails_loudly(settings, setting, changes, dropped, share_value, error):
    table = {**getattr(settings, setting), **changes}
    setattr(settings, setting, {key: value for key, value in table.items() if key not in dropped})
    settings.ORDERS_BOOSTER_SHARE = share_value
    game = VALORANT if "VALORANT" in setting else LOL
    with pytest.raises(ImproperlyConfigured, match=re.escape(error)):
        game.quote(current=game.preset[0], desired=game.preset[1], options=OrderOptions(duo_queue=True))


@pytest.mark.parametrize(
    "game, current, desired, error",
    [
        (LOL, ("gold", 4), ("silver", 1), ladder.DESIRED_NOT_HIGHER),
        (LOL, ("gold", 4), ("gold", 4), ladder.DESIRED_NOT_HIGHER),
        (VALORANT, ("gold", 3), ("gold", 2), ladder.DESIRED_NOT_HIGHER),
        (VALORANT, ("radiant", None), ("immortal", 3), ladder.DESIRED_NOT_HIGHER),
        (LOL, ("wood", 2), ("gold", 1), ladder.RANK_UNKNOWN),
    ],
)
def test_impossible_boosts_are_not_priced(game, current, desired, error):
    with pytest.raises(ladder.LadderError) as raised:
        game.quote(current=current, desired=desired)
    assert str(raised.value) == error
