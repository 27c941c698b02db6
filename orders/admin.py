"""Orders in the Django admin. Workflow changes (assign, start, pause, resume,
complete, cancel) are admin actions that call the same services as the site;
plain edits are validated by Order.clean (the ladder's rules), push live through
the post_save scheduling in orders.signals and are recorded on the timeline."""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from orders import games, selectors, services
from orders.models import BoosterApproval, BoosterTransaction, Order, OrderEvent, ProofScreenshot

PICK_A_BOOSTER = "Pick a booster next to the action to assign orders."
ONLY_ASSIGNED_START = "only assigned orders can be started (paused ones are resumed)."
ONLY_PAUSED_RESUME = "only paused orders can be resumed."


class BoosterChoiceField(forms.ModelChoiceField):
    """An unknown choice reads as "none picked": the action says so, instead of the
    admin's generic "No action selected" for an invalid action form."""

    def to_python(self, value: object) -> object:
        try:
            return super().to_python(value)
        except ValidationError:
            return None


class OrderActionForm(ActionForm):
    """The changelist's action bar, with the booster the assign action hands orders to."""

    booster = BoosterChoiceField(
        queryset=selectors.assignable_boosters(), required=False, label="Booster (for assign):"
    )
    reason = forms.CharField(max_length=200, required=False, label="Reason (for cancel, or complete before the goal):")


class OrderEventInline(admin.TabularInline):
    model = OrderEvent
    extra = 0
    can_delete = False
    fields = ("created", "actor", "kind", "from_status", "to_status", "message")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        return False


class ProofScreenshotInline(admin.TabularInline):
    model = ProofScreenshot
    extra = 0
    can_delete = False
    fields = ("created", "uploaded_by", "original_name", "content_type")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        return False


def _run(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Order], verb: str, action: Callable
) -> None:
    done, failed = 0, []
    for order in queryset:
        try:
            action(order)
            done += 1
        except (services.OrderError, services.OrderPermissionDenied) as error:
            failed.append(f"{order}: {error}")
    if done:
        modeladmin.message_user(request, f"{verb} {done} order(s).", messages.SUCCESS)
    for line in failed:
        modeladmin.message_user(request, line, messages.ERROR)


class OrderAdminForm(forms.ModelForm):
    """Rank and division fields as choices from the order's own game."""

    class Meta:
        model = Order
        fields = (
            "customer",
            "price",
            "booster_price",
            *(f"{prefix}_{part}" for prefix in ("current", "reached") for part in ("rank", "division", "points")),
            "desired_rank",
            "desired_division",
            "duo_queue",
            "appear_offline",
            "priority_start",
            "preferences",
            "region",
        )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if not self.instance.game:
            return
        ladder = self.instance.game_def.ladder
        divisions = [("", "—"), *ladder.division_choices()]
        for prefix in ("current", "desired", "reached"):
            if f"{prefix}_rank" in self.fields:
                self.fields[f"{prefix}_rank"].widget = forms.Select(choices=ladder.tier_choices())
                self.fields[f"{prefix}_division"].widget = forms.Select(choices=divisions)


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    form = OrderAdminForm
    list_display = (
        "name",
        "game",
        "status",
        "customer",
        "booster",
        "price",
        "booster_price",
        "progress_display",
        "created",
    )
    list_filter = ("game", "status", "created")
    search_fields = ("name", "customer__username", "booster__username", "preferences")
    list_select_related = ("customer", "booster")
    raw_id_fields = ("customer",)
    readonly_fields = (
        "name",
        "game",
        "status",
        "booster",
        "staff_room",
        "booster_room",
        "progress_display",
        "created",
        "updated",
        "assigned_at",
        "completed_at",
    )
    fieldsets = (
        (None, {"fields": ("name", "game", "status", "customer", "booster", "progress_display")}),
        ("Price", {"fields": ("price", "booster_price")}),
        (
            "Ranks",
            {
                "fields": (
                    ("current_rank", "current_division", "current_points"),
                    ("desired_rank", "desired_division"),
                    ("reached_rank", "reached_division", "reached_points"),
                )
            },
        ),
        ("Options", {"fields": (("duo_queue", "appear_offline", "priority_start"), "preferences", "region")}),
        (
            "Chat and dates",
            {"fields": ("staff_room", "booster_room", "created", "updated", "assigned_at", "completed_at")},
        ),
    )
    inlines = (OrderEventInline, ProofScreenshotInline)
    action_form = OrderActionForm
    actions = ("assign_orders", "start_orders", "pause_orders", "resume_orders", "complete_orders", "cancel_orders")

    @admin.display(description="Progress")
    def progress_display(self, order: Order) -> str:
        try:
            return f"{order.progress}%"
        except games.LadderError:
            return "—"  # the change form shows an edit it refused

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Orders are placed by customers (priced by the server), never typed in.
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Order | None = None) -> tuple[str, ...]:
        # The customer of an existing order never changes.
        return (*self.readonly_fields, "customer") if obj else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: Order, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and form.changed_data:
            services.order_record_edit(order=obj, by=request.user, fields=list(form.changed_data))

    @admin.action(description="Assign selected orders to the chosen booster")
    def assign_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        booster = OrderActionForm.base_fields["booster"].clean(request.POST.get("booster"))
        if booster is None:
            self.message_user(request, PICK_A_BOOSTER, messages.ERROR)
            return
        _run(
            self,
            request,
            queryset,
            f"Assigned to {booster.username}:",
            lambda o: services.order_assign(order=o, booster=booster, by=request.user),
        )

    @admin.action(description="Start selected orders")
    def start_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        _run(self, request, queryset, "Started", lambda o: self._play(o, request, Order.Status.ASSIGNED))

    @admin.action(description="Pause selected orders")
    def pause_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        _run(
            self,
            request,
            queryset,
            "Paused",
            lambda o: services.order_status_set(order=o, status=Order.Status.PAUSED, by=request.user),
        )

    @admin.action(description="Resume selected orders")
    def resume_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        _run(self, request, queryset, "Resumed", lambda o: self._play(o, request, Order.Status.PAUSED))

    @staticmethod
    def _play(order: Order, request: HttpRequest, expected: str) -> Order:
        """Start and resume are one service call; each action applies to its own status."""
        if order.status != expected:
            raise services.OrderError(ONLY_ASSIGNED_START if expected == Order.Status.ASSIGNED else ONLY_PAUSED_RESUME)
        return services.order_status_set(order=order, status=Order.Status.IN_PROGRESS, by=request.user)

    @admin.action(description="Complete selected orders (records the payout)")
    def complete_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        reason = request.POST.get("reason", "")[:200]
        _run(
            self,
            request,
            queryset,
            "Completed",
            lambda o: services.order_complete(order=o, by=request.user, reason=reason),
        )

    @admin.action(description="Cancel selected orders")
    def cancel_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        reason = request.POST.get("reason", "")[:200]
        _run(
            self,
            request,
            queryset,
            "Cancelled",
            lambda o: services.order_cancel(order=o, by=request.user, reason=reason),
        )


@admin.register(BoosterTransaction)
class BoosterTransactionAdmin(admin.ModelAdmin):
    list_display = ("order", "booster", "amount", "created")
    list_select_related = ("order", "booster")
    search_fields = ("order__name", "booster__username")
    readonly_fields = ("order", "booster", "amount", "created")

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Payouts come from completing an order, once each.
        return False


class BoosterApprovalForm(forms.ModelForm):
    """A game and a tier of that game's ladder; saved through the service."""

    game = forms.ChoiceField(choices=games.choices())
    max_tier = forms.ChoiceField(
        label="Up to",
        choices=[
            (game.name, [(tier.value, tier.label) for tier in game.ladder.tiers]) for game in games.GAMES.values()
        ],
    )

    class Meta:
        model = BoosterApproval
        fields = ("booster", "game", "max_tier")

    def clean(self) -> dict:
        data = super().clean()
        game, tier = data.get("game"), data.get("max_tier")
        if game and tier and tier not in games.get(game).ladder.tier_values():
            self.add_error("max_tier", f"{games.get(game).name} has no tier {tier!r}.")
        return data


@admin.register(BoosterApproval)
class BoosterApprovalAdmin(admin.ModelAdmin):
    """Which games and tiers each booster may claim (also on the staff page /staff/boosters/)."""

    form = BoosterApprovalForm
    list_display = ("booster", "game", "max_tier", "approved_by", "updated")
    list_filter = ("game",)
    list_select_related = ("booster", "approved_by")
    search_fields = ("booster__username",)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "booster":
            kwargs["queryset"] = selectors.assignable_boosters()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: BoosterApproval, form, change: bool) -> None:
        if change and "game" in form.changed_data:
            # Moving an approval to another game withdraws the one it was.
            original = BoosterApproval.objects.get(pk=obj.pk)
            services.booster_approval_set(booster=original.booster, game=original.game, max_tier="", by=request.user)
        approval = services.booster_approval_set(
            booster=obj.booster, game=obj.game, max_tier=obj.max_tier, by=request.user
        )
        obj.pk = approval.pk

    def delete_model(self, request: HttpRequest, obj: BoosterApproval) -> None:
        services.booster_approval_set(booster=obj.booster, game=obj.game, max_tier="", by=request.user)

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        for approval in queryset.select_related("booster"):
            self.delete_model(request, approval)
