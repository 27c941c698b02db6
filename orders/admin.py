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

from orders import selectors, services
from orders.models import BoosterTransaction, Order, OrderEvent, ProofScreenshot

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


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("name", "status", "customer", "booster", "price", "booster_price", "progress_display", "created")
    list_filter = ("status", "created")
    search_fields = ("name", "customer__username", "booster__username")
    list_select_related = ("customer", "booster")
    raw_id_fields = ("customer",)
    readonly_fields = (
        "name",
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
        (None, {"fields": ("name", "status", "customer", "booster", "progress_display")}),
        ("Price", {"fields": ("price", "booster_price")}),
        (
            "League of Legends",
            {
                "fields": (
                    ("current_rank", "current_division", "current_lp"),
                    ("desired_rank", "desired_division"),
                    ("reached_rank", "reached_division", "reached_lp"),
                )
            },
        ),
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
        return f"{order.progress}%"

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
