"""Every order action: one keyword-only function per action.

Views, the admin and management commands all call these. Each runs in one
transaction on a row locked with SELECT ... FOR UPDATE, records an `OrderEvent`,
and schedules the live push (`broadcasts.schedule`, from `_record`, saying who
lost sight of the order) and any email for after the commit, so nothing leaves
for a change that rolls back. `@broadcasts.pushes_explicitly` keeps the
receivers for saves made elsewhere (orders.signals) from scheduling it again.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from orders import broadcasts, pricing, ranks
from orders.models import BoosterTransaction, Order, OrderEvent, ProofScreenshot
from orders.permissions import REASSIGNABLE, can_transition
from realtime import roles
from realtime.mail import absolute_url, send_mail_safely
from realtime.roles import is_staff_user
from rooms import services as room_services
from uploads import storage
from uploads.validation import ValidatedFile

Status = Order.Status

TRANSITION_INVALID = "This order can't go from {from_status} to {to_status}."
NOT_A_BOOSTER = "Only boosters can take orders."
NOT_ASSIGNEE = "Only the order's booster can do that."
NOT_STAFF = "Only managers and admins can do that."
NOT_ALLOWED = "You can't do that to this order."
ALREADY_TAKEN = "Another booster already took this order."
OWN_ORDER = "You can't boost your own order."
BOOSTER_INVALID = "Pick an active booster."
PROGRESS_NEEDS_PLAY = "Progress can only be reported while the order is assigned or in progress."
PROOF_NOT_ALLOWED = "Only the order's booster can upload proof while the order is open."
CANCEL_BY_CUSTOMER = "You can only cancel your order before a booster takes it."
STATUS_UNKNOWN = "Unknown status."


class OrderError(ValueError):
    """Bad input or a forbidden transition; `str(error)` is safe to show the user."""


class OrderPermissionDenied(PermissionError):
    """The user may see the order but not do this to it."""


def _require_transition(order: Order, to_status: str) -> None:
    if not can_transition(order.status, to_status):
        raise OrderError(
            TRANSITION_INVALID.format(
                from_status=Status(order.status).label.lower(), to_status=Status(to_status).label.lower()
            )
        )


def _locked(order: Order) -> Order:
    """The row, re-read under a lock: decisions are made on what is committed now."""
    return Order.objects.select_for_update().get(pk=order.pk)


def _email_after_commit(*, to: str, subject: str, body: str) -> None:
    # After the commit: a rolled-back action sends nothing, and SMTP never holds the row lock.
    transaction.on_commit(partial(send_mail_safely, subject=subject, body=body, recipients=[to]))


def _record(
    order: Order,
    *,
    actor: AbstractBaseUser | None,
    kind: str,
    message: str,
    from_status: str = "",
    lost_user_ids: Iterable[int] = (),
    left_claim_list: bool = False,
    payouts: bool = False,
) -> OrderEvent:
    """Put the change on the timeline and schedule its push, the only one it gets."""
    event = OrderEvent.objects.create(
        order=order,
        actor=actor,
        kind=kind,
        message=message[:255],
        from_status=from_status,
        to_status=order.status if from_status else "",
    )
    broadcasts.schedule(
        order.pk,
        message=event.message,
        lost_user_ids=lost_user_ids,
        left_claim_list=left_claim_list,
        payouts=payouts,
    )
    return event


# CREATE


@broadcasts.pushes_explicitly
@transaction.atomic
def order_create(
    *,
    customer: AbstractBaseUser,
    current_rank: str,
    current_division: int | None,
    current_lp: int = 0,
    desired_rank: str,
    desired_division: int | None,
) -> Order:
    """A new pending order, priced here from the price table, with its staff chat."""
    try:
        ranks.validate(current_rank, current_division, current_lp)
        quote = pricing.quote(
            current_rank=current_rank,
            current_division=current_division,
            desired_rank=desired_rank,
            desired_division=desired_division,
        )
    except ranks.RankError as error:
        raise OrderError(str(error)) from None
    order = Order.objects.create(
        customer=customer,
        price=quote.price,
        booster_price=quote.booster_price,
        current_rank=current_rank,
        current_division=current_division,
        current_lp=current_lp,
        desired_rank=desired_rank,
        desired_division=desired_division,
        reached_rank=current_rank,
        reached_division=current_division,
        reached_lp=current_lp,
    )
    order.staff_room = room_services.room_create_for_order(
        name=f"order-{order.pk}-staff", title=f"{order.name} · support", members=[customer]
    )
    order.save(update_fields=["staff_room", "updated"])
    _record(
        order,
        actor=customer,
        kind=OrderEvent.Kind.CREATED,
        message=f"Order placed: {order.current_label} → {order.desired_label}",
    )
    return order


# ASSIGNMENT


def _take(order: Order, *, booster: AbstractBaseUser, actor: AbstractBaseUser, kind: str, message: str) -> Order:
    previous_status, previous_booster_id, was_claimable = order.status, order.booster_id, order.is_claimable
    order.booster = booster
    if order.status == Status.PENDING:
        order.status = Status.ASSIGNED
    order.assigned_at = timezone.now()
    members = [order.customer, booster]
    if order.booster_room_id is None:
        order.booster_room = room_services.room_create_for_order(
            name=f"order-{order.pk}-booster", title=f"{order.name} · booster", members=members
        )
    else:
        # A reassignment: the previous booster leaves the chat (their sockets close).
        room_services.room_set_members(room=order.booster_room, members=members)
    order.save()
    _record(
        order,
        actor=actor,
        kind=kind,
        message=message,
        from_status=previous_status,
        lost_user_ids=[previous_booster_id] if previous_booster_id is not None else [],
        left_claim_list=was_claimable,
    )
    _email_after_commit(
        to=order.customer.email,
        subject=f"{order.name}: a booster is on it",
        body=f"{booster.username} will boost your order {order.name} "
        f"({order.current_label} → {order.desired_label}). Follow it live at {absolute_url(order.get_absolute_url())}",
    )
    _email_after_commit(
        to=booster.email,
        subject=f"{order.name} is yours",
        body=f"You now boost {order.name} ({order.current_label} → {order.desired_label}). "
        f"Details and chat: {absolute_url(order.get_absolute_url())}",
    )
    return order


@broadcasts.pushes_explicitly
@transaction.atomic
def order_claim(*, order: Order, booster: AbstractBaseUser) -> Order:
    """A booster takes an unassigned order; of two racing boosters exactly one wins."""
    if not roles.is_booster(booster):
        raise OrderPermissionDenied(NOT_A_BOOSTER)
    order = _locked(order)
    if order.booster_id is not None:
        raise OrderError(ALREADY_TAKEN)
    _require_transition(order, Status.ASSIGNED)
    if order.customer_id == booster.pk:
        raise OrderError(OWN_ORDER)
    return _take(
        order, booster=booster, actor=booster, kind=OrderEvent.Kind.CLAIMED, message=f"Claimed by {booster.username}"
    )


@broadcasts.pushes_explicitly
@transaction.atomic
def order_assign(*, order: Order, booster: AbstractBaseUser, by: AbstractBaseUser) -> Order:
    """Staff hand the order to a booster (or to another one)."""
    if not is_staff_user(by):
        raise OrderPermissionDenied(NOT_STAFF)
    if not (booster.is_active and roles.is_booster(booster)):
        raise OrderError(BOOSTER_INVALID)
    order = _locked(order)
    if order.status not in REASSIGNABLE:
        _require_transition(order, Status.ASSIGNED)
    if order.customer_id == booster.pk:
        raise OrderError(OWN_ORDER)
    if order.booster_id == booster.pk:
        return order
    return _take(
        order, booster=booster, actor=by, kind=OrderEvent.Kind.ASSIGNED, message=f"Assigned to {booster.username}"
    )


# PLAY


@broadcasts.pushes_explicitly
@transaction.atomic
def order_status_set(*, order: Order, status: str, by: AbstractBaseUser) -> Order:
    """Start, pause or resume (completion and cancellation have their own actions)."""
    if status not in Status.values:
        raise OrderError(STATUS_UNKNOWN)
    if status == Status.COMPLETED:
        return order_complete(order=order, by=by)
    if status == Status.CANCELLED:
        return order_cancel(order=order, by=by)
    order = _locked(order)
    if status in (Status.PENDING, Status.ASSIGNED):
        # Assignment needs a booster (order_claim / order_assign); nothing goes back to pending.
        raise OrderError(
            TRANSITION_INVALID.format(
                from_status=order.get_status_display().lower(), to_status=Status(status).label.lower()
            )
        )
    if not (is_staff_user(by) or order.booster_id == by.pk):
        raise OrderPermissionDenied(NOT_ASSIGNEE)
    _require_transition(order, status)
    previous = order.status
    order.status = status
    order.save()
    verb = {Status.IN_PROGRESS: "Resumed" if previous == Status.PAUSED else "Started", Status.PAUSED: "Paused"}[status]
    _record(order, actor=by, kind=OrderEvent.Kind.STATUS, message=f"{verb} by {by.username}", from_status=previous)
    return order


@broadcasts.pushes_explicitly
@transaction.atomic
def order_progress_update(
    *, order: Order, booster: AbstractBaseUser, reached_rank: str, reached_division: int | None, reached_lp: int
) -> Order:
    """The booster reports where the account is now; reporting also starts play."""
    order = _locked(order)
    if order.booster_id != booster.pk:
        raise OrderPermissionDenied(NOT_ASSIGNEE)
    if order.status not in (Status.ASSIGNED, Status.IN_PROGRESS):
        raise OrderError(PROGRESS_NEEDS_PLAY)
    try:
        ranks.validate(reached_rank, reached_division, reached_lp)
    except ranks.RankError as error:
        raise OrderError(str(error)) from None
    previous = order.status
    order.status = Status.IN_PROGRESS
    order.reached_rank, order.reached_division, order.reached_lp = reached_rank, reached_division, reached_lp
    order.save()
    _record(
        order,
        actor=booster,
        kind=OrderEvent.Kind.PROGRESS,
        message=f"Reached {order.reached_label} {reached_lp} LP ({order.progress}%)",
        from_status=previous if previous != order.status else "",
    )
    return order


@broadcasts.pushes_explicitly
@transaction.atomic
def order_complete(*, order: Order, by: AbstractBaseUser) -> Order:
    """Finish the order and record the booster's payout (once)."""
    order = _locked(order)
    if not (is_staff_user(by) or (order.booster_id is not None and order.booster_id == by.pk)):
        raise OrderPermissionDenied(NOT_ASSIGNEE)
    _require_transition(order, Status.COMPLETED)
    previous = order.status
    order.status = Status.COMPLETED
    order.completed_at = timezone.now()
    order.reached_rank, order.reached_division, order.reached_lp = order.desired_rank, order.desired_division, 0
    order.save()
    BoosterTransaction.objects.create(booster_id=order.booster_id, order=order, amount=order.booster_price)
    _record(
        order,
        actor=by,
        kind=OrderEvent.Kind.COMPLETED,
        message=f"Completed by {by.username}",
        from_status=previous,
        payouts=True,
    )
    _email_after_commit(
        to=order.customer.email,
        subject=f"{order.name} is complete",
        body=f"Your boost to {order.desired_label} is done. Thanks for ordering with Boostroom!",
    )
    return order


@broadcasts.pushes_explicitly
@transaction.atomic
def order_cancel(*, order: Order, by: AbstractBaseUser, reason: str = "") -> Order:
    """Staff cancel any unfinished order; a customer only before it is taken."""
    order = _locked(order)
    if not is_staff_user(by):
        if order.customer_id != by.pk:
            raise OrderPermissionDenied(NOT_ALLOWED)
        if not order.is_claimable:
            raise OrderPermissionDenied(CANCEL_BY_CUSTOMER)
    _require_transition(order, Status.CANCELLED)
    previous, was_claimable = order.status, order.is_claimable
    order.status = Status.CANCELLED
    order.save()
    message = f"Cancelled by {by.username}" + (f": {reason.strip()}" if reason.strip() else "")
    _record(
        order,
        actor=by,
        kind=OrderEvent.Kind.CANCELLED,
        message=message,
        from_status=previous,
        left_claim_list=was_claimable,
    )
    return order


@broadcasts.pushes_explicitly
@transaction.atomic
def order_record_edit(*, order: Order, by: AbstractBaseUser, fields: list[str]) -> OrderEvent:
    """Put a direct edit (the admin's change form) on the timeline."""
    return _record(
        order, actor=by, kind=OrderEvent.Kind.EDITED, message=f"Edited by {by.get_username()}: {', '.join(fields)}"
    )


# PROOF


@broadcasts.pushes_explicitly
@transaction.atomic
def proof_add(*, order: Order, booster: AbstractBaseUser, file: ValidatedFile) -> ProofScreenshot:
    """Store a screenshot the booster took; customer and staff see it appear live."""
    order = _locked(order)
    if order.booster_id != booster.pk or order.status not in (Status.IN_PROGRESS, Status.PAUSED, Status.COMPLETED):
        raise OrderPermissionDenied(PROOF_NOT_ALLOWED)
    name, thumbnail_name = storage.save_validated(file=file, prefix=f"proofs/{order.pk}")
    try:
        proof = ProofScreenshot.objects.create(
            order=order,
            uploaded_by=booster,
            file=name,
            thumbnail=thumbnail_name or "",
            original_name=file.original_name,
            content_type=file.content_type,
        )
        _record(order, actor=booster, kind=OrderEvent.Kind.PROOF, message=f"Proof uploaded by {booster.username}")
    except Exception:
        storage.delete_stored(name, thumbnail_name)
        raise
    return proof
