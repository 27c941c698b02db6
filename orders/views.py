"""Order pages and actions. Every request checks who is asking through
orders.selectors (404 for an order the user may not see); every action goes
through orders.services."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages as flash
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from orders import broadcasts, forms, permissions, selectors, services
from orders.models import Order
from orders.ranks import Division, Rank
from orders.selectors import BOOSTER, CLAIM, CUSTOMER, STAFF
from realtime import roles
from uploads import delivery, limits, validation

DASHBOARD = "orders/dashboard.html"
PAGE = "orders/order.html"
ONLY_CUSTOMERS_ORDER = "Only customer accounts can place orders."

User = get_user_model()


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


def _card_choices() -> dict:
    return {"rank_choices": Rank.choices, "division_choices": Division.choices}


# PAGES


def home(request: HttpRequest) -> HttpResponse:
    """The landing page: what Boostroom sells, and the way in."""
    return render(request, "home.html")


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    role = roles.user_role(request.user)
    context: dict = {"role": role, **_card_choices()}
    if role == STAFF:
        status = request.GET.get("status") or ""
        if status not in Order.Status.values:
            status = ""
        context.update(
            orders=_with_actions(selectors.orders_for_staff(status=status or None), STAFF),
            boosters=selectors.boosters_for_assign(),
            status_filter=status,
            statuses=Order.Status.choices,
        )
        if request.htmx and not request.htmx.boosted and request.htmx.target == "staff-orders":
            return render(request, f"{DASHBOARD}#staff-orders", context)
    elif role == BOOSTER:
        context.update(
            orders=_with_actions(selectors.orders_for_booster(user=request.user), BOOSTER),
            claimable=_with_actions(selectors.orders_claimable(), CLAIM),
            payouts=selectors.booster_payouts(user=request.user),
            payout_total=selectors.booster_payout_total(user=request.user),
        )
    else:
        context.update(
            orders=_with_actions(selectors.orders_for_customer(user=request.user), CUSTOMER),
            form=forms.OrderCreateForm(),
            quote=forms.initial_quote(),
        )
    return render(request, DASHBOARD, context)


def _create_form_context(form: forms.OrderCreateForm) -> dict:
    form.is_valid()
    quote = getattr(form, "quote", None)
    errors = [str(error) for errors in form.errors.values() for error in errors]
    return {"form": form, "quote": quote, "preview_error": errors[0] if errors else ""}


@login_required
@require_GET
def price_preview(request: HttpRequest) -> HttpResponse:
    """The live price under the new-order form; the price is computed again on create."""
    return render(request, f"{DASHBOARD}#price-preview", _create_form_context(forms.OrderCreateForm(request.GET)))


@login_required
@require_POST
def order_create(request: HttpRequest) -> HttpResponse:
    if roles.user_role(request.user) != CUSTOMER:
        return HttpResponseForbidden(ONLY_CUSTOMERS_ORDER)
    form = forms.OrderCreateForm(request.POST)
    if form.is_valid():
        try:
            order = services.order_create(customer=request.user, **form.cleaned_data)
        except services.OrderError as error:
            form.add_error(None, str(error))
        else:
            return redirect(order)
    context = {
        "role": CUSTOMER,
        "orders": _with_actions(selectors.orders_for_customer(user=request.user), CUSTOMER),
        **_card_choices(),
        **_create_form_context(form),
    }
    return render(request, DASHBOARD, context, status=400)


@login_required
@require_GET
def order_detail(request: HttpRequest, pk: int) -> HttpResponse:
    order, audience = _order_or_404(pk, request.user)
    return render(request, PAGE, _page_context(order, audience))


def _page_context(order: Order, audience: str) -> dict:
    rooms = []
    if audience != CLAIM:
        if audience in (CUSTOMER, STAFF) and order.staff_room:
            rooms.append(order.staff_room)
        if audience in (CUSTOMER, BOOSTER, STAFF) and order.booster_room:
            rooms.append(order.booster_room)
    return {
        "order": order,
        "audience": audience,
        "actions": permissions.allowed_actions(order=order, audience=audience),
        "boosters": selectors.boosters_for_assign() if audience == STAFF else [],
        "events": selectors.order_timeline(order=order) if audience != CLAIM else [],
        "proofs": selectors.order_proofs(order=order) if audience != CLAIM else [],
        "rooms": rooms,
        **_card_choices(),
    }


# ACTIONS


def _back(request: HttpRequest, order: Order) -> HttpResponse:
    referer = request.META.get("HTTP_REFERER", "")
    if referer and url_has_allowed_host_and_scheme(referer, {request.get_host()}, request.is_secure()):
        return redirect(referer)
    return redirect(order)


def _respond(request: HttpRequest, pk: int, *, error: str | None = None, leaves_list: bool = False) -> HttpResponse:
    """The acting card, fresh, for the element that posted (hx-target="closest article").

    Everything else on the page (other lists, the timeline) is the socket's job:
    out-of-band fragments in this response would be resolved against the posting
    form, which the socket's own push may already have detached from the page.
    """
    if not request.htmx:
        if error:
            flash.error(request, error)
        order = Order.objects.filter(pk=pk).first()
        return _back(request, order) if order else redirect("orders:dashboard")
    order = selectors.order_for_push(order_id=pk)
    audience = selectors.order_audience(order=order, user=request.user) if order else None
    on_page = (request.htmx.current_url_abs_path or "").startswith(f"/orders/{pk}/")
    notice = broadcasts.render_notice(error or "")
    if audience is None or (leaves_list and not on_page):
        # An empty swap removes the card from the list it was in.
        return HttpResponse(notice)
    card = broadcasts.render_card(order, audience, boosters=selectors.boosters_for_assign())
    # 200 even for a refused action: htmx does not swap error responses by default.
    return HttpResponse(card + notice)


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
        action(order)
    except (services.OrderError, services.OrderPermissionDenied) as error:
        if isinstance(error, services.OrderPermissionDenied) and not request.htmx:
            return HttpResponseForbidden(str(error))
        return _respond(request, pk, error=str(error))
    return _respond(request, pk, leaves_list=leaves_list)


@login_required
@require_POST
def order_claim(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        order, _audience = _order_or_404(pk, request.user)
    except Http404:
        if roles.is_booster(request.user) and Order.objects.filter(pk=pk).exists():
            # Another booster was quicker: take the stale card off this one's claim list.
            return _respond(request, pk, error=services.ALREADY_TAKEN)
        raise
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
    form = forms.ProgressForm(request.POST)
    if not form.is_valid():
        message = next(iter(form.errors.values()))[0]
        return _act(request, pk, lambda order: _raise(message))
    data = form.cleaned_data
    return _act(
        request,
        pk,
        lambda order: services.order_progress_update(
            order=order,
            booster=request.user,
            reached_rank=data["reached_rank"],
            reached_division=data["reached_division"],
            reached_lp=data["reached_lp"],
        ),
    )


@login_required
@require_POST
def order_complete(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, lambda order: services.order_complete(order=order, by=request.user))


@login_required
@require_POST
def order_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    reason = request.POST.get("reason", "")[:200]
    return _act(request, pk, lambda order: services.order_cancel(order=order, by=request.user, reason=reason))


# PROOF SCREENSHOTS


@login_required
@require_POST
def proof_upload(request: HttpRequest, pk: int) -> HttpResponse:
    order, audience = _order_or_404(pk, request.user)
    if "proof" not in permissions.allowed_actions(order=order, audience=audience):
        # Before reading the upload: nobody else's file is worth validating.
        return _proof_error(request, order, services.PROOF_NOT_ALLOWED)
    if limits.upload_was_too_large(request):
        return _proof_error(request, order, validation.too_large_message())
    if limits.upload_rate_exceeded(user=request.user):
        return _proof_error(request, order, limits.UPLOAD_RATE_LIMITED)
    upload = request.FILES.get("file")
    if upload is None:
        return _proof_error(request, order, validation.UPLOAD_MISSING)
    try:
        validated = validation.validate_upload(upload, images_only=True)
        services.proof_add(order=order, booster=request.user, file=validated)
    except validation.UploadRejected as error:
        return _proof_error(request, order, str(error))
    except services.OrderPermissionDenied as error:
        return _proof_error(request, order, str(error))
    if not request.htmx:
        return redirect(order)
    order, _audience = _order_or_404(pk, request.user)
    # The empty error clears an earlier refusal shown beside the form.
    html = _proof_error_fragment("") + broadcasts.render_proofs(order) + broadcasts.render_timeline(order)
    return HttpResponse(html, status=201)


def _proof_error_fragment(text: str) -> str:
    return render_to_string(f"{PAGE}#proof-error", {"proof_error": text, "oob": True})


def _proof_error(request: HttpRequest, order: Order, text: str) -> HttpResponse:
    if not request.htmx:
        flash.error(request, text)
        return redirect(order)
    # htmx leaves error statuses unswapped, so the message rides on a 200.
    return HttpResponse(_proof_error_fragment(text), status=200)


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
