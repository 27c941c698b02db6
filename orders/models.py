from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse

from orders import games
from orders.games.base import PREFERENCES_MAX_LENGTH, OrderOptions

RANK_FIELDS = ("current_rank", "current_division", "desired_rank", "desired_division")


def order_name(pk: int, game: games.Game) -> str:
    return f"{game.name_prefix}-{pk:06d}"


class Order(models.Model):
    """A rank boost in one of the games (orders/games/): from the current rank
    to the desired one, with the options the customer picked. Ranks are the
    game's tier values, divisions and points (LP, RR) as its ladder defines them."""

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

    # No choices here: each game has its own (orders.games); `clean` and the services check them.
    game = models.CharField(max_length=16, help_text="The game's slug in orders.games, e.g. lol or valorant.")
    current_rank = models.CharField(max_length=16)
    current_division = models.PositiveSmallIntegerField(null=True, blank=True)
    current_points = models.PositiveSmallIntegerField(default=0)
    desired_rank = models.CharField(max_length=16)
    desired_division = models.PositiveSmallIntegerField(null=True, blank=True)
    reached_rank = models.CharField(max_length=16)
    reached_division = models.PositiveSmallIntegerField(null=True, blank=True)
    reached_points = models.PositiveSmallIntegerField(default=0)

    # Options, priced when the order was placed (orders.games.base).
    duo_queue = models.BooleanField(default=False)
    appear_offline = models.BooleanField(default=False)
    priority_start = models.BooleanField(default=False)
    preferences = models.CharField(max_length=PREFERENCES_MAX_LENGTH, blank=True)
    region = models.CharField(max_length=16, blank=True, help_text="The game's server code; empty before regions.")

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
            # ...and its "last change first" order.
            models.Index(fields=["-updated", "-id"], name="order_updated_id"),
            models.Index(fields=["status", "-created"], name="order_status_created"),
            # The claim list: priority starts first, then oldest first.
            models.Index(fields=["status", "-priority_start", "created", "id"], name="order_claim_list"),
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
            self.name = order_name(self.pk, self.game_def)
            type(self).objects.filter(pk=self.pk).update(name=self.name)
        self.remember_loaded_state()

    def __str__(self) -> str:
        return self.name or f"order #{self.pk}"

    def clean(self) -> None:
        """The game's rules for direct edits (the admin's change form): each
        rank/division/points triple must exist on its ladder, the goal must be
        above the start, and the reached rank between the two."""
        try:
            ladder = self.game_def.ladder
        except games.LadderError as error:
            raise ValidationError({"game": str(error)}) from None
        errors: dict[str, str] = {}
        for prefix, points_field in (("current", "current_points"), ("desired", None), ("reached", "reached_points")):
            rank, division = getattr(self, f"{prefix}_rank"), getattr(self, f"{prefix}_division")
            try:
                ladder.validate(rank, division, None)
            except games.LadderError as error:
                known = rank in ladder.tier_values()
                errors[f"{prefix}_division" if known else f"{prefix}_rank"] = str(error)
                continue
            if points_field:
                try:
                    ladder.validate(rank, division, getattr(self, points_field))
                except games.LadderError as error:
                    errors[points_field] = str(error)
        if not errors.keys() & set(RANK_FIELDS):
            try:
                ladder.check_goal_above(self.current, self.desired)
            except games.LadderError as error:
                errors["desired_rank"] = str(error)
        if not errors:
            try:
                ladder.check_between(start=self.start, reached=self.reached, goal=self.desired)
            except games.LadderError as error:
                errors["reached_rank"] = str(error)
        if errors:
            raise ValidationError(errors)

    def get_absolute_url(self) -> str:
        return reverse("orders:detail", args=[self.pk])

    @property
    def is_claimable(self) -> bool:
        return self.status == self.Status.PENDING and self.booster_id is None

    @property
    def game_def(self) -> games.Game:
        return games.get(self.game)

    @property
    def points_name(self) -> str:
        return self.game_def.ladder.points_name

    # Where the account is, as (rank, division[, points]) for the game's ladder.
    @property
    def current(self) -> tuple[str, int | None]:
        return self.current_rank, self.current_division

    @property
    def start(self) -> tuple[str, int | None, int | None]:
        return self.current_rank, self.current_division, self.current_points

    @property
    def desired(self) -> tuple[str, int | None]:
        return self.desired_rank, self.desired_division

    @property
    def reached(self) -> tuple[str, int | None, int | None]:
        return self.reached_rank, self.reached_division, self.reached_points

    @property
    def current_label(self) -> str:
        return self.game_def.ladder.label(*self.current)

    @property
    def desired_label(self) -> str:
        return self.game_def.ladder.label(*self.desired)

    @property
    def reached_label(self) -> str:
        return self.game_def.ladder.label(self.reached_rank, self.reached_division)

    @property
    def reached_rank_label(self) -> str:
        """The tier alone, e.g. "Gold": seed 001's `reached_rank`."""
        return self.game_def.ladder.label(self.reached_rank, None)

    @property
    def goal_reached(self) -> bool:
        ladder = self.game_def.ladder
        return ladder.step(self.reached_rank, self.reached_division) >= ladder.step(*self.desired)

    @property
    def progress(self) -> int:
        if self.status == self.Status.COMPLETED:
            return 100
        return self.game_def.ladder.progress_percent(start=self.start, reached=self.reached, goal=self.desired)

    @property
    def options(self) -> OrderOptions:
        return OrderOptions(
            duo_queue=self.duo_queue,
            appear_offline=self.appear_offline,
            priority_start=self.priority_start,
            preferences=self.preferences,
            region=self.region,
        )

    @property
    def option_labels(self) -> list[str]:
        """The switches the customer turned on, as the card lists them (preferences are shown apart)."""
        picked = set(self.options.picked())
        return [option.label for option in self.game_def.options if option.field in picked - {"preferences"}]

    @property
    def region_label(self) -> str:
        return self.game_def.region_label(self.region) if self.region else ""


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


class BoosterApproval(models.Model):
    """Which orders a booster may claim: one game, up to a tier of its ladder
    (the order's desired rank). Staff set these; a booster without one for a
    game sees none of that game's orders on the claim list."""

    booster = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="boost_approvals")
    game = models.CharField(max_length=16)
    max_tier = models.CharField(max_length=16, help_text="The highest desired rank they may take.")
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["booster_id", "game"]
        constraints = [models.UniqueConstraint(fields=["booster", "game"], name="approval_booster_game")]

    def __str__(self) -> str:
        return f"{self.booster_id}: {self.game} up to {self.max_tier}"

    @property
    def game_def(self) -> games.Game:
        return games.get(self.game)

    @property
    def max_tier_label(self) -> str:
        return self.game_def.ladder.label(self.max_tier, None)


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
