"""Catch order changes made outside the services (the admin's change form, the
shell) and schedule their live push. The services schedule their own pushes, so
these stand aside while one runs. Receivers only schedule: rendering and
sending happen in orders.broadcasts after the transaction commits."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from orders import broadcasts
from orders.models import BoosterTransaction, Order, OrderEvent, ProofScreenshot


def _made_elsewhere(raw: bool = False) -> bool:
    # raw: loading fixtures, whose rows are not changes anyone watches.
    return not raw and not broadcasts.saved_by_a_service()


@receiver(post_save, sender=Order, dispatch_uid="orders.order_saved")
def order_saved(sender: type[Order], instance: Order, raw: bool = False, **kwargs: Any) -> None:
    if _made_elsewhere(raw):
        broadcasts.schedule_saved(instance)


@receiver(post_delete, sender=Order, dispatch_uid="orders.order_deleted")
def order_deleted(sender: type[Order], instance: Order, **kwargs: Any) -> None:
    if _made_elsewhere():
        user_ids = [pk for pk in (instance.customer_id, instance.booster_id) if pk is not None]
        broadcasts.schedule(instance.pk, lost_user_ids=user_ids)


@receiver(post_save, sender=OrderEvent, dispatch_uid="orders.event_saved")
def event_saved(sender: type[OrderEvent], instance: OrderEvent, raw: bool = False, **kwargs: Any) -> None:
    if _made_elsewhere(raw):
        broadcasts.schedule(instance.order_id, message=instance.message)


@receiver(post_save, sender=BoosterTransaction, dispatch_uid="orders.payout_saved")
def payout_saved(
    sender: type[BoosterTransaction], instance: BoosterTransaction, raw: bool = False, **kwargs: Any
) -> None:
    if _made_elsewhere(raw):
        broadcasts.schedule(instance.order_id, payouts=True)


@receiver(post_save, sender=ProofScreenshot, dispatch_uid="orders.proof_saved")
@receiver(post_delete, sender=ProofScreenshot, dispatch_uid="orders.proof_deleted")
def proof_changed(sender: type[ProofScreenshot], instance: ProofScreenshot, raw: bool = False, **kwargs: Any) -> None:
    if _made_elsewhere(raw):
        broadcasts.schedule(instance.order_id)
