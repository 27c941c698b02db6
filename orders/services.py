"""Every order action: one keyword-only function per action.

Views, the admin and management commands all call these. Each runs in one
transaction on a row locked with SELECT ... FOR UPDATE, records an `OrderEvent`,
and schedules the live push (`broadcasts.schedule`, from `_record`, saying who
lost sight of the order) and any email for after the commit, so nothing leaves
for a change that rolls back. `@broadcasts.pushes_explicitly` keeps the
receivers for saves made elsewhere (orders.signals) from scheduling it again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import partial

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from orders import broadcasts, games, mails, selectors
from orders.games import OrderOptions
from orders.models import BoosterApproval, BoosterTransaction, Order, OrderEvent, ProofScreenshot
from orders.permissions import REASSIGNABLE, can_transition
from realtime import roles
from realtime.mail import send_mail_safely
from realtime.roles import is_staff_user
from rooms import services as room_services
from uploads import storage
from uploads.validation import ValidatedFile

Status = Order.Status
User = get_user_model()

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
GOAL_NOT_REACHED = "Report reaching {goal} before marking the order complete."
EARLY_COMPLETION_NEEDS_REASON = "Say why this order is complete before reaching {goal}."
STATUS_UNKNOWN = "Unknown status."
NOT_APPROVED = "You aren't approved to boost {game} up to {rank}."


class OrderError(ValueError):
    """Bad input (or, as OrderConflict, a transition the order's state forbids);
    `str(error)` is safe to show the user."""


class OrderPermissionDenied(PermissionError):
    """The user may see the order but not do this to it."""


class OrderConflict(OrderError):
    """The order is no longer where this action needs it (taken by another
    booster, moved on to another status): a fresh look at it settles it."""


def _require_transition(order: Order, to_status: str) -> None:
    if not can_transition(order.status, to_status):
        raise OrderConflict(
            TRANSITION_INVALID.format(
                from_status=Status(order.status).label.lower(), to_status=Status(to_status).label.lower()
            )
        )


def _locked(order: Order) -> Order:
    """The row, re-read under a lock: decisions are made on what is committed now."""
    return Order.objects.select_for_update().get(pk=order.pk)


def _email_after_commit(to: AbstractBaseUser, mail: mails.Mail) -> None:
    # After the commit: a rolled-back action sends nothing, and SMTP never holds the row lock.
    transaction.on_commit(partial(send_mail_safely, subject=mail.subject, body=mail.body, recipients=[to.email]))


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
    saving: tuple[str, ...] = (),
) -> OrderEvent:
    """Put the change on the timeline and schedule its push, the only one it gets.

    `saving` names fields the action changed and has not saved: they go in the
    same write as the card's "last change" (no receiver needs a service's save)."""
    event = OrderEvent.objects.create(
        order=order,
        actor=actor,
        kind=kind,
        message=message[:255],
        from_status=from_status,
        to_status=order.status if from_status else "",
    )
    # The card's "last change" is the timeline's latest line, also for changes
    # that do not save the order (a proof, an edit note).
    order.updated = event.created
    Order.objects.filter(pk=order.pk).update(updated=event.created, **{name: getattr(order, name) for name in saving})
    if saving:
        order.remember_loaded_state()
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
    game: str = games.DEFAULT,
    current_rank: str,
    current_division: int | None,
    current_points: int = 0,
    desired_rank: str,
    desired_division: int | None,
    options: OrderOptions | None = None,
) -> Order:
    """A new pending order, priced here from its game's price table (options
    included), with its staff chat."""
    try:
        chosen = games.get(game)
        chosen.ladder.validate(current_rank, current_division, current_points)
        options = chosen.clean_options(options or OrderOptions())
        quote = chosen.quote(
            current=(current_rank, current_division), desired=(desired_rank, desired_division), options=options
        )
    except games.LadderError as error:
        raise OrderError(str(error)) from None
    order = Order.objects.create(
        customer=customer,
        game=chosen.slug,
        price=quote.price,
        booster_price=quote.booster_price,
        current_rank=current_rank,
        current_division=current_division,
        current_points=current_points,
        desired_rank=desired_rank,
        desired_division=desired_division,
        reached_rank=current_rank,
        reached_division=current_division,
        reached_points=current_points,
        duo_queue=options.duo_queue,
        appear_offline=options.appear_offline,
        priority_start=options.priority_start,
        preferences=options.preferences,
        region=options.region,
    )
    order.staff_room = room_services.room_create_for_order(
        name=f"order-{order.pk}-staff", title=f"{order.name} · support", members=[customer]
    )
    order.save(update_fields=["staff_room", "updated"])
    extras = ", ".join(order.option_labels)
    _record(
        order,
        actor=customer,
        kind=OrderEvent.Kind.CREATED,
        message=f"Order placed: {order.current_label} → {order.desired_label}" + (f" ({extras})" if extras else ""),
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
    if previous_booster_id is None:
        _email_after_commit(order.customer, mails.booster_found(order, booster))
    else:
        # Not "a booster is on it" again: the customer had one, and it changed.
        _email_after_commit(order.customer, mails.booster_changed(order, booster))
        _email_after_commit(User.objects.get(pk=previous_booster_id), mails.order_taken_from_you(order))
    _email_after_commit(booster, mails.order_yours(order))
    return order


@broadcasts.pushes_explicitly
@transaction.atomic
def order_claim(*, order: Order, booster: AbstractBaseUser) -> Order:
    """A booster takes an unassigned order; of two racing boosters exactly one wins."""
    if not roles.is_booster(booster):
        raise OrderPermissionDenied(NOT_A_BOOSTER)
    order = _locked(order)
    if order.booster_id is not None:
        raise OrderConflict(ALREADY_TAKEN)
    _require_transition(order, Status.ASSIGNED)
    if order.customer_id == booster.pk:
        raise OrderError(OWN_ORDER)
    if not selectors.may_claim(user=booster, order=order):
        raise OrderPermissionDenied(NOT_APPROVED.format(game=order.game_def.name, rank=order.desired_label))
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
    *,
    order: Order,
    booster: AbstractBaseUser,
    reached_rank: str,
    reached_division: int | None,
    reached_points: int,
) -> Order:
    """The booster reports where the account is now (in the game's points, LP or
    RR), between the order's start and its goal; reporting also starts play."""
    order = _locked(order)
    if order.booster_id != booster.pk:
        raise OrderPermissionDenied(NOT_ASSIGNEE)
    if order.status not in (Status.ASSIGNED, Status.IN_PROGRESS):
        raise OrderConflict(PROGRESS_NEEDS_PLAY)
    reached = (reached_rank, reached_division, reached_points)
    ladder = order.game_def.ladder
    try:
        ladder.validate(*reached)
        ladder.check_between(start=order.start, reached=reached, goal=order.desired)
    except games.LadderError as error:
        raise OrderError(str(error)) from None
    previous = order.status
    order.status = Status.IN_PROGRESS
    order.reached_rank, order.reached_division, order.reached_points = reached
    _record(
        order,
        actor=booster,
        kind=OrderEvent.Kind.PROGRESS,
        message=f"Reached {ladder.label_with_points(*reached)} ({order.progress}%)",
        from_status=previous if previous != order.status else "",
        saving=("status", "reached_rank", "reached_division", "reached_points"),
    )
    return order


@broadcasts.pushes_explicitly
@transaction.atomic
def order_complete(*, order: Order, by: AbstractBaseUser, reason: str = "") -> Order:
    """Finish the order and record the booster's payout (once). The booster
    finishes at the goal; staff may finish earlier, saying why on the timeline."""
    order = _locked(order)
    staff = is_staff_user(by)
    if not (staff or (order.booster_id is not None and order.booster_id == by.pk)):
        raise OrderPermissionDenied(NOT_ASSIGNEE)
    _require_transition(order, Status.COMPLETED)
    reason = reason.strip()
    early = not order.goal_reached
    if early and not staff:
        raise OrderConflict(GOAL_NOT_REACHED.format(goal=order.desired_label))
    if early and not reason:
        raise OrderError(EARLY_COMPLETION_NEEDS_REASON.format(goal=order.desired_label))
    previous = order.status
    order.status = Status.COMPLETED
    order.completed_at = timezone.now()
    order.reached_rank, order.reached_division, order.reached_points = *order.desired, 0
    order.save()
    BoosterTransaction.objects.create(booster_id=order.booster_id, order=order, amount=order.booster_price)
    _record(
        order,
        actor=by,
        kind=OrderEvent.Kind.COMPLETED,
        message=f"Completed by {by.username}" + (f" before reaching {order.desired_label}: {reason}" if early else ""),
        from_status=previous,
        payouts=True,
    )
    _email_after_commit(order.customer, mails.completed_for_customer(order))
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
    reason = reason.strip()
    message = f"Cancelled by {by.username}" + (f": {reason}" if reason else "")
    _record(
        order,
        actor=by,
        kind=OrderEvent.Kind.CANCELLED,
        message=message,
        from_status=previous,
        left_claim_list=was_claimable,
    )
    by_customer = by.pk == order.customer_id
    _email_after_commit(order.customer, mails.cancelled_for_customer(order, by_customer=by_customer, reason=reason))
    if order.booster is not None:
        _email_after_commit(order.booster, mails.cancelled_for_booster(order, reason=reason))
    return order


@broadcasts.pushes_explicitly
@transaction.atomic
def order_record_edit(*, order: Order, by: AbstractBaseUser, fields: list[str]) -> OrderEvent:
    """Put a direct edit (the admin's change form) on the timeline."""
    return _record(
        order, actor=by, kind=OrderEvent.Kind.EDITED, message=f"Edited by {by.get_username()}: {', '.join(fields)}"
    )


# BOOSTER APPROVALS


def _check_approver(booster: AbstractBaseUser, by: AbstractBaseUser) -> None:
    if not is_staff_user(by):
        raise OrderPermissionDenied(NOT_STAFF)
    if not roles.is_booster(booster):
        raise OrderError(BOOSTER_INVALID)


def _approval_write(
    booster: AbstractBaseUser, game: str, max_tier: str, by: AbstractBaseUser
) -> BoosterApproval | None:
    try:
        ladder = games.get(game).ladder
        if max_tier:
            ladder.tier(max_tier)
    except games.LadderError as error:
        raise OrderError(str(error)) from None
    if not max_tier:
        BoosterApproval.objects.filter(booster=booster, game=game).delete()
        return None
    approval, _created = BoosterApproval.objects.update_or_create(
        booster=booster, game=game, defaults={"max_tier": max_tier, "approved_by": by}
    )
    return approval


def _approvals_changed(booster: AbstractBaseUser) -> None:
    selectors.forget_claim_scope(booster)
    # The booster's open claim lists re-read themselves after the commit.
    broadcasts.schedule_claim_scope(booster.pk)


@transaction.atomic
def booster_approval_set(
    *, booster: AbstractBaseUser, game: str, max_tier: str, by: AbstractBaseUser
) -> BoosterApproval | None:
    """Let a booster claim `game` orders whose goal is at most `max_tier`; an
    empty `max_tier` withdraws the approval."""
    _check_approver(booster, by)
    approval = _approval_write(booster, game, max_tier, by)
    _approvals_changed(booster)
    return approval


@transaction.atomic
def booster_approvals_set(*, booster: AbstractBaseUser, tiers: Mapping[str, str], by: AbstractBaseUser) -> None:
    """Several games' approvals at once (the staff page's row): all saved, or
    none when one is refused. Unchanged ones are left alone."""
    _check_approver(booster, by)
    current = {approval.game: approval.max_tier for approval in BoosterApproval.objects.filter(booster=booster)}
    changed = {game: tier for game, tier in tiers.items() if tier != current.get(game, "")}
    for game, max_tier in changed.items():
        _approval_write(booster, game, max_tier, by)
    if changed:
        _approvals_changed(booster)


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
