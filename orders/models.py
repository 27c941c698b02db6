from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse

from orders import ranks
from orders.pricing import DESIRED_NOT_HIGHER
from orders.ranks import Division, Rank

NAME_PREFIX = "LOL"


def order_name(pk: int) -> str:
    return f"{NAME_PREFIX}-{pk:06d}"


class Order(models.Model):
    """A League of Legends division boost (the only kind sold so far)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ASSIGNED = "assigned", "Assigned"
        IN_PROGRESS = "in_progress", "In progress"
        PAUSED = "paused", "Paused"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    # Filled from the primary key right after the first insert.
    name = models.CharField(max_length=20, unique=True, null=True, blank=True, editable=False)
    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders")
    booster = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="boosted_orders"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    price = models.DecimalField(max_digits=10, decimal_places=2, help_text="What the customer pays.")
    booster_price = models.DecimalField(max_digits=10, decimal_places=2, help_text="The booster's payout.")

    current_rank = models.CharField(max_length=12, choices=Rank.choices)
    current_division = models.PositiveSmallIntegerField(choices=Division.choices, null=True, blank=True)
    current_lp = models.PositiveSmallIntegerField(default=0)
    desired_rank = models.CharField(max_length=12, choices=Rank.choices)
    desired_division = models.PositiveSmallIntegerField(choices=Division.choices, null=True, blank=True)
    reached_rank = models.CharField(max_length=12, choices=Rank.choices)
    reached_division = models.PositiveSmallIntegerField(choices=Division.choices, null=True, blank=True)
    reached_lp = models.PositiveSmallIntegerField(default=0)

    staff_room = models.ForeignKey(
        "rooms.Room", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    booster_room = models.ForeignKey(
        "rooms.Room", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )

    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    assigned_at = models.DateTimeField(null=True, blank=True, editable=False)
    completed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [
            # The staff dashboard's unfiltered list: newest first without sorting the table.
            models.Index(fields=["-created", "-id"], name="order_created_id"),
            models.Index(fields=["status", "-created"], name="order_status_created"),
            models.Index(fields=["customer", "-created"], name="order_customer_created"),
            models.Index(fields=["booster", "-created"], name="order_booster_created"),
        ]

    # What the row held when loaded, so a save anywhere (admin, shell) can tell
    # which audiences lose the order: the previous booster, the claim list.
    _loaded: dict[str, Any] | None = None

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance.remember_loaded_state()
        return instance

    def remember_loaded_state(self) -> None:
        # Deferred loads (.only()) skip this: touching a deferred field would query.
        if "status" in self.__dict__ and "booster_id" in self.__dict__:
            self._loaded = {"booster_id": self.booster_id, "claimable": self.is_claimable}

    def save(self, *args: Any, **kwargs: Any) -> None:
        # post_save receivers (inside super().save) compare with the snapshot
        # from before this save; the next save compares with this one.
        super().save(*args, **kwargs)
        if not self.name:
            self.name = order_name(self.pk)
            type(self).objects.filter(pk=self.pk).update(name=self.name)
        self.remember_loaded_state()

    def __str__(self) -> str:
        return self.name or f"order #{self.pk}"

    def clean(self) -> None:
        """The ladder's rules for direct edits (the admin's change form): each
        rank/division/LP triple must exist, and the goal must be above the start."""
        errors: dict[str, str] = {}
        for prefix, lp_field in (("current", "current_lp"), ("desired", None), ("reached", "reached_lp")):
            rank, division = getattr(self, f"{prefix}_rank"), getattr(self, f"{prefix}_division")
            try:
                ranks.validate(rank, division, None)
            except ranks.RankError as error:
                errors[f"{prefix}_division" if rank in ranks.RANK_ORDER else f"{prefix}_rank"] = str(error)
                continue
            if lp_field:
                try:
                    ranks.validate(rank, division, getattr(self, lp_field))
                except ranks.RankError as error:
                    errors[lp_field] = str(error)
        if not errors.keys() & {"current_rank", "current_division", "desired_rank", "desired_division"}:
            if ranks.step(self.desired_rank, self.desired_division) <= ranks.step(
                self.current_rank, self.current_division
            ):
                errors["desired_rank"] = DESIRED_NOT_HIGHER
        if errors:
            raise ValidationError(errors)

    def get_absolute_url(self) -> str:
        return reverse("orders:detail", args=[self.pk])

    @property
    def is_claimable(self) -> bool:
        return self.status == self.Status.PENDING and self.booster_id is None

    @property
    def current_label(self) -> str:
        return ranks.label(self.current_rank, self.current_division)

    @property
    def desired_label(self) -> str:
        return ranks.label(self.desired_rank, self.desired_division)

    @property
    def reached_label(self) -> str:
        return ranks.label(self.reached_rank, self.reached_division)

    @property
    def progress(self) -> int:
        if self.status == self.Status.COMPLETED:
            return 100
        return ranks.progress_percent(
            start=(self.current_rank, self.current_division, self.current_lp),
            reached=(self.reached_rank, self.reached_division, self.reached_lp),
            desired=(self.desired_rank, self.desired_division),
        )


class OrderEvent(models.Model):
    """One line of an order's timeline: who changed what, when."""

    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        CLAIMED = "claimed", "Claimed"
        ASSIGNED = "assigned", "Assigned"
        STATUS = "status", "Status changed"
        PROGRESS = "progress", "Progress"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"
        PROOF = "proof", "Proof uploaded"
        EDITED = "edited", "Edited"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    from_status = models.CharField(max_length=12, choices=Order.Status.choices, blank=True)
    to_status = models.CharField(max_length=12, choices=Order.Status.choices, blank=True)
    message = models.CharField(max_length=255)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["order", "id"], name="orderevent_order_id")]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.message}"


class BoosterTransaction(models.Model):
    """A booster's payout: one per completed order."""

    booster = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payouts")
    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="payout")
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["booster", "-created"], name="payout_booster_created")]

    def __str__(self) -> str:
        return f"{self.amount} to {self.booster_id} for order {self.order_id}"


class ProofScreenshot(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="proofs")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # Server-made names; served only through the permission-checked view.
    file = models.FileField(upload_to="proofs/%Y/%m/", max_length=255)
    thumbnail = models.FileField(upload_to="proofs/thumbs/%Y/%m/", blank=True, max_length=255)
    original_name = models.CharField(max_length=255, blank=True, help_text="Display only")
    content_type = models.CharField(max_length=100, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"proof {self.pk} of order {self.order_id}"

    def get_absolute_url(self) -> str:
        return reverse("orders:proof_file", args=[self.order_id, self.pk])

    def get_thumbnail_url(self) -> str:
        if not self.thumbnail:
            return self.get_absolute_url()
        return reverse("orders:proof_thumbnail", args=[self.order_id, self.pk])
