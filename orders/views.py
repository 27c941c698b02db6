"""Order pages and actions. Every request checks who is asking through
orders.selectors (404 for an order the user may not see); every action goes
through orders.services."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages as flash
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from orders import broadcasts, forms, games, permissions, selectors, services
from orders.models import Order
from orders.selectors import BOOSTER, CLAIM, CUSTOMER, STAFF
from realtime import roles
from uploads import delivery, limits, validation

DASHBOARD = "orders/dashboard.html"
PAGE = "orders/order.html"
LIST = "orders/list.html"
BOOSTERS = "orders/boosters.html"
ONLY_CUSTOMERS_ORDER = "Only customer accounts can place orders."

User = get_user_model()


def refusal_status(error: Exception) -> int:
    """What an expected refusal answers: 403 not allowed, 409 the order is no
    longer where the action needs it, 422 refused input. base.html's
    responseHandling swaps all three like a success, so the notice shows where
    the user acted."""
    if isinstance(error, services.OrderPermissionDenied):
        return 403
    if isinstance(error, services.OrderConflict):
        return 409
    return 422


def _forbidden_page(request: HttpRequest, text: str) -> HttpResponse:
    return render(request, "403.html", {"error_message": text}, status=403)


def _order_or_404(pk: int, user) -> tuple[Order, str]:
    """The one translation of "may not see it" (or "does not exist") into a 404."""
    try:
        return selectors.order_for_user(order_id=pk, user=user)
    except selectors.OrderAccessDenied:
        raise Http404("No such order.") from None


def _with_actions(orders: list[Order], audience: str) -> list[Order]:
    for order in orders:
        order.card_actions = permissions.allowed_actions(order=order, audience=audience)
    return orders


def _game_filter(request: HttpRequest) -> str:
    """`?game=` when it names a game we sell; anything else shows every game."""
    game = request.GET.get("game") or ""
    return game if game in games.GAMES else ""


def _game_context(request: HttpRequest, game: str) -> dict:
    others = request.GET.copy()
    for name in ("game", "after"):
        others.pop(name, None)
    return {"game_filter": game, "game_choices": games.choices(), "game_query": others.urlencode()}


# PAGES


def home(request: HttpRequest) -> HttpResponse:
    """The landing page: what Boostroom sells, and the way in."""
    return render(request, "home.html")


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    role = roles.user_role(request.user)
    context: dict = {"role": role}
    if role == STAFF:
        filter_form = forms.StaffFilterForm(request.GET)
        filters = filter_form.filters()
        page = selectors.orders_for_staff(
            status=filters["status"] or None,
            game=filters["game"] or None,
            query=filters["q"],
            sort=filters["sort"],
            after=request.GET.get("after"),
        )
        context.update(
            boosters=selectors.boosters_for_assign(),
            filter_form=filter_form,
            filters=filters,
            filtered=any(filters[name] for name in ("q", "status", "game")),
            **_page_of(request, page, STAFF),
        )
        if _htmx_target(request) == "staff-orders":
            return render(request, f"{DASHBOARD}#staff-orders", context)
        if _htmx_target(request) == "orders-more":
            return render(request, f"{DASHBOARD}#more-page", context)
        return render(request, DASHBOARD, context)
    game = _game_filter(request)
    context.update(_game_context(request, game))
    if role == BOOSTER:
        context.update(
            orders=_with_actions(selectors.orders_for_booster(user=request.user, game=game or None), BOOSTER),
            claimable=_with_actions(selectors.orders_claimable(user=request.user, game=game or None), CLAIM),
            approvals=selectors.booster_approvals(user=request.user),
            payouts=selectors.booster_payouts(user=request.user),
            payout_total=selectors.booster_payout_total(user=request.user),
        )
    else:
        form = forms.OrderCreateForm(game=game or None)
        context.update(
            orders=_with_actions(selectors.orders_for_customer(user=request.user, game=game or None), CUSTOMER),
            form=form,
            quote=form.initial_quote(),
        )
    return render(request, DASHBOARD, context)


def _htmx_target(request: HttpRequest) -> str | None:
    return request.htmx.target if request.htmx and not request.htmx.boosted else None


def _page_of(request: HttpRequest, page: selectors.OrderPage, audience: str) -> dict:
    """A keyset page's cards and its links: the next page (the same query, later
    cursor) and, on a later page, the first one."""
    more, first = request.GET.copy(), request.GET.copy()
    more["after"] = page.next_cursor or ""
    first.pop("after", None)
    return {
        "orders": _with_actions(page.orders, audience),
        "audience": audience,
        "in_list": broadcasts.LISTS[audience],
        "next_cursor": page.next_cursor,
        "more_query": more.urlencode(),
        "first_query": first.urlencode(),
        "later_page": "after" in request.GET,
        "page_size": selectors.PAGE_SIZE,
    }


@login_required
@require_GET
def order_list(request: HttpRequest) -> HttpResponse:
    """The user's orders, all of them, 25 at a time (staff: every order, on the dashboard)."""
    role = roles.user_role(request.user)
    if role == STAFF:
        return redirect("orders:dashboard")
    game = _game_filter(request)
    page = selectors.orders_of_user(user=request.user, game=game or None, after=request.GET.get("after"))
    context = {"role": role, **_game_context(request, game), **_page_of(request, page, role)}
    if _htmx_target(request) == "orders-more":
        return render(request, f"{DASHBOARD}#more-page", context)
    return render(request, LIST, context)


def _create_form_context(form: forms.OrderCreateForm) -> dict:
    """The form with its price, or its first error. A form whose game just
    changed comes back as that game's fresh form (its ranks, its options)."""
    if form.switched:
        fresh = forms.OrderCreateForm(game=form.game_def.slug)
        return {
            "form": fresh,
            "quote": fresh.initial_quote(),
            "preview_error": "",
            "fields_changed": True,
            "form_notice": forms.GAME_SWITCHED.format(game=fresh.game_def.name),
        }
    form.is_valid()
    quote = getattr(form, "quote", None)
    errors = [str(error) for errors in form.errors.values() for error in errors]
    return {"form": form, "quote": quote, "preview_error": errors[0] if errors else ""}


@login_required
@require_GET
def price_preview(request: HttpRequest) -> HttpResponse:
    """The live price under the new-order form (and, when the game changed, its
    fields); the price is computed again on create, whatever the form posts."""
    return render(request, f"{DASHBOARD}#price-preview", _create_form_context(forms.OrderCreateForm(request.GET)))


@login_required
@require_POST
def order_create(request: HttpRequest) -> HttpResponse:
    if roles.user_role(request.user) != CUSTOMER:
        return _forbidden_page(request, ONLY_CUSTOMERS_ORDER)
    form = forms.OrderCreateForm(request.POST)
    if not form.switched and form.is_valid():
        try:
            order = services.order_create(customer=request.user, **form.create_arguments())
        except services.OrderError as error:
            form.add_error(None, str(error))
        else:
            return redirect(order)
    context = {
        "role": CUSTOMER,
        "orders": _with_actions(selectors.orders_for_customer(user=request.user), CUSTOMER),
        **_game_context(request, ""),
        **_create_form_context(form),
    }
    return render(request, DASHBOARD, context, status=422)


@login_required
@require_GET
def order_detail(request: HttpRequest, pk: int) -> HttpResponse:
    order, audience = _order_or_404(pk, request.user)
    return render(request, PAGE, _page_context(order, audience))


def _page_context(order: Order, audience: str) -> dict:
    return {
        "order": order,
        "audience": audience,
        "actions": permissions.allowed_actions(order=order, audience=audience),
        "boosters": selectors.boosters_for_assign() if audience == STAFF else [],
        "events": selectors.order_timeline(order=order) if audience != CLAIM else [],
        "proofs": selectors.order_proofs(order=order) if audience != CLAIM else [],
        "rooms": selectors.order_rooms(order=order, audience=audience),
    }


# ACTIONS


def _back(request: HttpRequest, order: Order) -> HttpResponse:
    referer = request.META.get("HTTP_REFERER", "")
    if referer and url_has_allowed_host_and_scheme(referer, {request.get_host()}, request.is_secure()):
        return redirect(referer)
    return redirect(order)


def _respond(
    request: HttpRequest,
    pk: int,
    *,
    error: str | None = None,
    status: int = 200,
    leaves_list: bool = False,
    acted: Order | None = None,
) -> HttpResponse:
    """The acting card, fresh, for the element that posted (hx-target="closest article"),
    with the refusal's notice and status (`refusal_status`) when there was one.
    `acted` is the order as the action saved it; without one it is read again.

    Everything else on the page (other lists, the timeline) is the socket's job:
    out-of-band fragments in this response would be resolved against the posting
    form, which the socket's own push may already have detached from the page.
    """
    if not request.htmx:
        if error:
            flash.error(request, error)
        order = acted or Order.objects.filter(pk=pk).first()
        return _back(request, order) if order else redirect("orders:dashboard")
    order = acted or selectors.order_for_push(order_id=pk)
    audience = selectors.order_audience(order=order, user=request.user) if order else None
    on_page = (request.htmx.current_url_abs_path or "").startswith(f"/orders/{pk}/")
    notice = broadcasts.render_notice(error or "")
    if audience is None or (leaves_list and not on_page):
        # An empty swap removes the card from the list it was in.
        return HttpResponse(notice, status=status)
    # Only a staff card offers the assignment list.
    boosters = selectors.boosters_for_assign() if audience == STAFF else None
    card = broadcasts.render_card(order, audience, boosters=boosters)
    return HttpResponse(card + notice, status=status)


def _as_acted(result: object, loaded: Order) -> Order | None:
    """The order an action returned, as it saved it, with the people and rooms
    this request already read where the action kept the same ones: the card
    needs no second read of the row. None when the action returned no order."""
    if not isinstance(result, Order) or result.pk != loaded.pk:
        return None
    for name in ("customer", "booster", "staff_room", "booster_room"):
        field = Order._meta.get_field(name)
        same = getattr(result, field.attname) == getattr(loaded, field.attname)
        if same and field.is_cached(loaded) and not field.is_cached(result):
            field.set_cached_value(result, field.get_cached_value(loaded))
    return result


def _act(
    request: HttpRequest,
    pk: int,
    action: Callable[[Order], object],
    *,
    order: Order | None = None,
    leaves_list: bool = False,
) -> HttpResponse:
    if order is None:
        order, _audience = _order_or_404(pk, request.user)
    try:
        result = action(order)
    except (services.OrderError, services.OrderPermissionDenied) as error:
        if isinstance(error, services.OrderPermissionDenied) and not request.htmx:
            return _forbidden_page(request, str(error))
        return _respond(request, pk, error=str(error), status=refusal_status(error))
    return _respond(request, pk, leaves_list=leaves_list, acted=_as_acted(result, order))


@login_required
@require_POST
def order_claim(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        order, _audience = _order_or_404(pk, request.user)
    except Http404:
        order = Order.objects.filter(pk=pk).first() if roles.is_booster(request.user) else None
        if order is None:
            raise
        # Another booster was quicker, or this one isn't approved for it: the
        # service says which, and the stale card leaves their claim list.
    # A claimed card leaves the claim list; the socket brings it to "my orders".
    return _act(
        request,
        pk,
        lambda order: services.order_claim(order=order, booster=request.user),
        order=order,
        leaves_list=True,
    )


@login_required
@require_POST
def order_assign(request: HttpRequest, pk: int) -> HttpResponse:
    form = forms.AssignForm(request.POST)
    if not form.is_valid():
        return _act(request, pk, lambda order: _raise(services.BOOSTER_INVALID))
    booster = User.objects.filter(pk=form.cleaned_data["booster"]).first()
    if booster is None:
        return _act(request, pk, lambda order: _raise(services.BOOSTER_INVALID))
    return _act(request, pk, lambda order: services.order_assign(order=order, booster=booster, by=request.user))


def _raise(message: str) -> None:
    raise services.OrderError(message)


@login_required
@require_POST
def order_status(request: HttpRequest, pk: int) -> HttpResponse:
    form = forms.StatusForm(request.POST)
    if not form.is_valid():
        return _act(request, pk, lambda order: _raise(services.STATUS_UNKNOWN))
    status = form.cleaned_data["status"]
    return _act(request, pk, lambda order: services.order_status_set(order=order, status=status, by=request.user))


@login_required
@require_POST
def order_progress(request: HttpRequest, pk: int) -> HttpResponse:
    order, _audience = _order_or_404(pk, request.user)
    form = forms.ProgressForm(request.POST, game=order.game_def)
    if not form.is_valid():
        message = next(iter(form.errors.values()))[0]
        return _act(request, pk, lambda order: _raise(message), order=order)
    data = form.cleaned_data
    return _act(
        request,
        pk,
        lambda order: services.order_progress_update(
            order=order,
            booster=request.user,
            reached_rank=data["reached_rank"],
            reached_division=data["reached_division"],
            reached_points=data["reached_points"],
        ),
        order=order,
    )


@login_required
@require_POST
def order_complete(request: HttpRequest, pk: int) -> HttpResponse:
    reason = request.POST.get("reason", "")[:200]
    return _act(request, pk, lambda order: services.order_complete(order=order, by=request.user, reason=reason))


@login_required
@require_POST
def order_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    reason = request.POST.get("reason", "")[:200]
    return _act(request, pk, lambda order: services.order_cancel(order=order, by=request.user, reason=reason))


# BOOSTER APPROVALS (staff)


def _approval_rows(rows: list[selectors.BoosterRow]) -> list[dict]:
    """Each booster with, per game, the tier choices and the one approved."""
    return [
        {
            "booster": row.booster,
            "games": [
                (game, game.ladder.tier_choices(), row.approvals.get(game.slug, "")) for game in games.GAMES.values()
            ],
        }
        for row in rows
    ]


@login_required
@require_GET
def booster_list(request: HttpRequest) -> HttpResponse:
    """Which games and tiers each booster may claim; staff change them here."""
    if not roles.is_staff_user(request.user):
        return _forbidden_page(request, services.NOT_STAFF)
    return render(request, BOOSTERS, {"rows": _approval_rows(selectors.booster_rows())})


@login_required
@require_POST
def booster_approvals(request: HttpRequest, pk: int) -> HttpResponse:
    """Save one booster's approvals: a tier per game, or "" for none."""
    if not roles.is_staff_user(request.user):
        return _forbidden_page(request, services.NOT_STAFF)
    rows = selectors.booster_rows(booster_id=pk)
    if not rows:
        raise Http404("No such booster.")
    tiers = {game: request.POST[game] for game in games.GAMES if game in request.POST}
    error = ""
    try:
        services.booster_approvals_set(booster=rows[0].booster, tiers=tiers, by=request.user)
    except services.OrderError as failed:
        error = str(failed)
    if not request.htmx:
        if error:
            flash.error(request, error)
        return redirect("orders:boosters")
    context = {"row": _approval_rows(selectors.booster_rows(booster_id=pk))[0], "error": error, "saved": not error}
    return render(request, f"{BOOSTERS}#booster-row", context, status=422 if error else 200)


# PROOF SCREENSHOTS


@login_required
@require_POST
def proof_upload(request: HttpRequest, pk: int) -> HttpResponse:
    order, audience = _order_or_404(pk, request.user)
    if "proof" not in permissions.allowed_actions(order=order, audience=audience):
        # Before reading the upload: nobody else's file is worth validating.
        return _proof_error(request, order, services.PROOF_NOT_ALLOWED, status=403)
    if limits.upload_was_too_large(request):
        return _proof_error(request, order, validation.too_large_message(), status=413)
    if limits.upload_rate_exceeded(user=request.user):
        return _proof_error(request, order, limits.UPLOAD_RATE_LIMITED, status=429)
    upload = request.FILES.get("file")
    if upload is None:
        return _proof_error(request, order, validation.UPLOAD_MISSING, status=422)
    try:
        validated = validation.validate_upload(upload, images_only=True)
        services.proof_add(order=order, booster=request.user, file=validated)
    except validation.UploadRejected as error:
        return _proof_error(request, order, str(error), status=422)
    except services.OrderPermissionDenied as error:
        return _proof_error(request, order, str(error), status=403)
    if not request.htmx:
        return redirect(order)
    order, _audience = _order_or_404(pk, request.user)
    # The empty error clears an earlier refusal shown beside the form.
    html = _proof_error_fragment("") + broadcasts.render_proofs(order) + broadcasts.render_timeline(order)
    return HttpResponse(html, status=201)


def _proof_error_fragment(text: str) -> str:
    return render_to_string(f"{PAGE}#proof-error", {"proof_error": text, "oob": True})


def _proof_error(request: HttpRequest, order: Order, text: str, *, status: int) -> HttpResponse:
    if not request.htmx:
        flash.error(request, text)
        return redirect(order)
    # The form swaps nothing itself (hx-swap="none"); the notice goes out of band.
    return HttpResponse(_proof_error_fragment(text), status=status)


def _proof_for(request: HttpRequest, pk: int, proof_id: int):
    order, audience = _order_or_404(pk, request.user)
    if audience == CLAIM:
        raise Http404("No such file.")
    return get_object_or_404(order.proofs, pk=proof_id)


@login_required
@require_GET
def proof_file(request: HttpRequest, pk: int, proof_id: int) -> HttpResponse:
    proof = _proof_for(request, pk, proof_id)
    return delivery.file_response(
        name=proof.file.name, content_type=proof.content_type, display_name=proof.original_name
    )


@login_required
@require_GET
def proof_thumbnail(request: HttpRequest, pk: int, proof_id: int) -> HttpResponse:
    proof = _proof_for(request, pk, proof_id)
    if not proof.thumbnail:
        raise Http404("No thumbnail.")
    return delivery.file_response(name=proof.thumbnail.name, display_name=proof.original_name)
