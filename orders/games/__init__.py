"""The games Boostroom sells. Each is one module of this package that builds a
`Game` (orders/games/base.py): its ladder of tiers, divisions and points
(orders/games/ladder.py, which also measures progress), its price table and
options, and the names its cards use. The order workflow, cards, timeline,
JSON events, dashboards and chats read a game only through that object.

Adding a game: write its module, list it in GAMES below, give its two price
settings defaults in config/settings.py and rows in README "Pricing", and test
its ladder and prices like tests/orders/test_games.py does for these two.
"""

from __future__ import annotations

from orders.games import lol, valorant
from orders.games.base import Game, LadderError, OrderOptions, Quote
from orders.games.ladder import Ladder, Tier

__all__ = ["GAMES", "DEFAULT", "Game", "Ladder", "LadderError", "OrderOptions", "Quote", "Tier", "get", "choices"]

GAMES: dict[str, Game] = {game.slug: game for game in (lol.GAME, valorant.GAME)}
# What an order is when nobody says: every order placed before Valorant was one.
DEFAULT = lol.GAME.slug
GAME_UNKNOWN = "Pick one of the games we boost."


def get(slug: str) -> Game:
    try:
        return GAMES[slug]
    except KeyError:
        raise LadderError(GAME_UNKNOWN) from None


def choices() -> list[tuple[str, str]]:
    return [(game.slug, game.name) for game in GAMES.values()]
