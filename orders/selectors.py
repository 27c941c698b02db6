"""Reads and permission checks for orders: the one place that decides who sees
which order, and as whom. Views turn `OrderAccessDenied` into 404, consumers
into close code 4004."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q, QuerySet, Sum

from orders import games
from orders.models import BoosterApproval, BoosterTransaction, Order, OrderEvent, ProofScreenshot
from realtime import roles
from realtime.roles import BOOSTER, CUSTOMER, STAFF, is_booster, is_staff_user

User = get_user_model()
DASHBOARD_LIMIT = 100
TIMELINE_LIMIT = 100
PAGE_SIZE = 25  # the staff list and /orders/
# The staff list's orders: newest placed first, or most recently changed first.
STAFF_SORTS = {"newest": "created", "changed": "updated"}
SEARCH_MAX_LENGTH = 100

# Audiences: who a rendered card is for. Each gets its own render per change.
# CUSTOMER, BOOSTER and STAFF are the roles of the same names.
CLAIM = "claim"  # any booster looking at an order nobody has taken yet


class OrderAccessDenied(Exception):
    """The order does not exist or this user may not see it (deliberately the same)."""


# A booster's approvals: game slug -> index of the highest tier of its ladder they may claim.
ClaimScope = dict[str, int]


def claim_scope(*, user: AbstractBaseUser | AnonymousUser) -> ClaimScope:
    """What `user` may claim (nothing unless they are a booster with approvals);
    cached on the user object like their roles, `forget_claim_scope` re-reads."""
    if not is_booster(user):
        return {}
    cached = user.__dict__.get("_claim_scope")
    if cached is None:
        cached = {}
        for game, tier in BoosterApproval.objects.filter(booster=user).values_list("game", "max_tier"):
            try:
                cached[game] = games.get(game).ladder.tier_index(tier)
            except games.LadderError:
                continue  # a game or tier no longer sold approves nothing
        user.__dict__["_claim_scope"] = cached
    return cached


def forget_claim_scope(user: AbstractBaseUser) -> None:
    user.__dict__.pop("_claim_scope", None)


def claim_key(order: Order) -> tuple[str, int]:
    """What an approval must cover to claim `order`: its game, and its goal's tier."""
    return order.game, order.game_def.ladder.tier_index(order.desired_rank)


def scope_covers(scope: ClaimScope, key: tuple[str, int] | list) -> bool:
    game, tier = key
    return game in scope and tier <= scope[game]


def may_claim(*, user: AbstractBaseUser, order: Order) -> bool:
    return order.is_claimable and scope_covers(claim_scope(user=user), claim_key(order))


def order_audience(*, order: Order, user: AbstractBaseUser | AnonymousUser) -> str | None:
    """As whom `user` sees `order`, or None when they may not see it at all."""
    if not user.is_authenticated or not user.is_active:
        return None
    if is_staff_user(user):
        return STAFF
    if order.booster_id is not None and order.booster_id == user.pk:
        return BOOSTER
    if order.customer_id == user.pk:
        return CUSTOMER
    if may_claim(user=user, order=order):
        return CLAIM
    return None


def order_for_user(*, order_id: int, user: AbstractBaseUser | AnonymousUser) -> tuple[Order, str]:
    try:
        order = _orders().get(pk=order_id)
    except Order.DoesNotExist:
        raise OrderAccessDenied(order_id) from None
    audience = order_audience(order=order, user=user)
    if audience is None:
        raise OrderAccessDenied(order_id)
    return order, audience


def _orders() -> QuerySet[Order]:
    return Order.objects.select_related("customer", "booster", "staff_room", "booster_room")


def order_for_push(*, order_id: int) -> Order | None:
    # get(), not first(): one row by its key needs no ORDER BY (first() would
    # sort by the model's ordering, compiled through the joins, on every change).
    try:
        return _orders().get(pk=order_id)
    except Order.DoesNotExist:
        return None


def _of_game(rows: QuerySet[Order], game: str | None) -> QuerySet[Order]:
    return rows.filter(game=game) if game else rows


def orders_for_customer(*, user: AbstractBaseUser, game: str | None = None) -> list[Order]:
    return list(_of_game(_orders().filter(customer=user), game)[:DASHBOARD_LIMIT])


def orders_for_booster(*, user: AbstractBaseUser, game: str | None = None) -> list[Order]:
    return list(_of_game(_orders().filter(booster=user), game)[:DASHBOARD_LIMIT])


def orders_claimable(*, user: AbstractBaseUser, game: str | None = None) -> list[Order]:
    """The claim list: unassigned orders of the games and tiers this booster is
    approved for. Priority starts first, then first come, first served."""
    covered = Q()
    for slug, top in claim_scope(user=user).items():
        if game in (None, slug):
            covered |= Q(game=slug, desired_rank__in=games.get(slug).ladder.tier_values(up_to=top))
    if not covered:
        return []
    rows = _orders().filter(covered, status=Order.Status.PENDING, booster__isnull=True)
    return list(rows.order_by("-priority_start", "created", "id")[:DASHBOARD_LIMIT])


@dataclass(frozen=True)
class OrderPage:
    orders: list[Order]
    next_cursor: str | None  # `after` for the next page; None on the last one


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _cursor(order: Order, field: str) -> str:
    # Whole microseconds and the pk: exact, URL-safe, and stable while new orders arrive.
    return f"{(getattr(order, field) - _EPOCH) // timedelta(microseconds=1)}.{order.pk}"


def _parse_cursor(text: str | None) -> tuple[datetime, int] | None:
    micros, _, pk = (text or "").partition(".")
    if not (micros.isdigit() and pk.isdigit()):
        return None
    try:
        return _EPOCH + timedelta(microseconds=int(micros)), int(pk)
    except OverflowError:
        return None


def _keyset_page(rows: QuerySet[Order], *, field: str, after: str | None) -> OrderPage:
    """One page of `rows`, newest `field` first, keyset-paginated: `after` is the
    previous page's `next_cursor`, so orders placed meanwhile neither repeat nor
    push rows onto the next page."""
    rows = rows.order_by(f"-{field}", "-id")
    if position := _parse_cursor(after):
        value, pk = position
        rows = rows.filter(Q(**{f"{field}__lt": value}) | Q(**{field: value, "id__lt": pk}))
    page = list(rows[: PAGE_SIZE + 1])
    more = len(page) > PAGE_SIZE
    page = page[:PAGE_SIZE]
    return OrderPage(orders=page, next_cursor=_cursor(page[-1], field) if more else None)


def orders_of_user(*, user: AbstractBaseUser, game: str | None = None, after: str | None = None) -> OrderPage:
    """`/orders/`: a customer's orders, or the ones a booster boosts, newest first."""
    rows = _orders().filter(booster=user) if is_booster(user) else _orders().filter(customer=user)
    return _keyset_page(_of_game(rows, game), field="created", after=after)


def orders_for_staff(
    *,
    status: str | None = None,
    game: str | None = None,
    query: str = "",
    sort: str = "newest",
    after: str | None = None,
) -> OrderPage:
    """A page of every order, filtered, searched and sorted."""
    field = STAFF_SORTS.get(sort, STAFF_SORTS["newest"])
    rows = _of_game(_orders(), game)
    if status:
        rows = rows.filter(status=status)
    query = query.strip()[:SEARCH_MAX_LENGTH]
    if query:
        rows = rows.filter(_search(query))
    return _keyset_page(rows, field=field, after=after)


def _search(query: str) -> Q:
    """Orders whose name, customer or booster contains `query`, and the options
    it names: preferences' text, a server, a switch ("duo", "priority"), a game."""
    found = (
        Q(name__icontains=query)
        | Q(customer__username__icontains=query)
        | Q(booster__username__icontains=query)
        | Q(preferences__icontains=query)
        | Q(region__iexact=query)
    )
    words = query.lower()
    for game in games.GAMES.values():
        if words in game.name.lower():
            found |= Q(game=game.slug)
        for code, label in game.regions:
            if words in label.lower():
                found |= Q(game=game.slug, region=code)
        for option in game.options:
            if option.field != "preferences" and words in option.label.lower():
                found |= Q(game=game.slug, **{option.field: True})
    return found


def booster_approvals(*, user: AbstractBaseUser) -> list[BoosterApproval]:
    return list(BoosterApproval.objects.filter(booster=user))


@dataclass(frozen=True)
class BoosterRow:
    """A booster on the staff approvals page, with their approval per game slug."""

    booster: AbstractBaseUser
    approvals: dict[str, str]  # game slug -> max tier


def booster_rows(*, booster_id: int | None = None) -> list[BoosterRow]:
    boosters = assignable_boosters().prefetch_related("boost_approvals")
    if booster_id is not None:
        boosters = boosters.filter(pk=booster_id)
    return [
        BoosterRow(booster, {approval.game: approval.max_tier for approval in booster.boost_approvals.all()})
        for booster in boosters
    ]


def assignable_boosters() -> QuerySet:
    """Active boosters, by name: who an order may be assigned to."""
    return User.objects.filter(groups__name=roles.BOOSTERS_GROUP, is_active=True).order_by("username")


def boosters_for_assign() -> list:
    return list(assignable_boosters().only("pk", "username"))


def order_rooms(*, order: Order, audience: str) -> list:
    """The order's chat rooms this audience may read, in the order the page lists them."""
    rooms = []
    if audience in (CUSTOMER, STAFF) and order.staff_room:
        rooms.append(order.staff_room)
    if audience in (CUSTOMER, BOOSTER, STAFF) and order.booster_room:
        rooms.append(order.booster_room)
    return rooms


def order_timeline(*, order: Order) -> list[OrderEvent]:
    rows = list(order.events.select_related("actor").order_by("-id")[:TIMELINE_LIMIT])
    rows.reverse()
    return rows


def order_proofs(*, order: Order) -> list[ProofScreenshot]:
    return list(order.proofs.order_by("id"))


def booster_payout_total(*, user: AbstractBaseUser) -> Decimal:
    total = BoosterTransaction.objects.filter(booster=user).aggregate(total=Sum("amount"))["total"]
    # SQLite sums decimals as floats; money is shown in cents.
    return Decimal(total or 0).quantize(Decimal("0.01"))


def booster_payouts(*, user: AbstractBaseUser) -> list[BoosterTransaction]:
    return list(BoosterTransaction.objects.filter(booster=user).select_related("order")[:DASHBOARD_LIMIT])
