"""Orders in the Django admin. Workflow changes are admin actions that call the
same services as the site; plain edits push live through the post_save
scheduling in orders.signals and are recorded on the order's timeline."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from orders import services
from orders.models import BoosterTransaction, Order, OrderEvent, ProofScreenshot


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
    actions = ("pause_orders", "resume_orders", "complete_orders", "cancel_orders")

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
        _run(
            self,
            request,
            queryset,
            "Resumed",
            lambda o: services.order_status_set(order=o, status=Order.Status.IN_PROGRESS, by=request.user),
        )

    @admin.action(description="Complete selected orders (records the payout)")
    def complete_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        _run(self, request, queryset, "Completed", lambda o: services.order_complete(order=o, by=request.user))

    @admin.action(description="Cancel selected orders")
    def cancel_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        _run(self, request, queryset, "Cancelled", lambda o: services.order_cancel(order=o, by=request.user))


@admin.register(BoosterTransaction)
class BoosterTransactionAdmin(admin.ModelAdmin):
    list_display = ("order", "booster", "amount", "created")
    list_select_related = ("order", "booster")
    search_fields = ("order__name", "booster__username")
    readonly_fields = ("order", "booster", "amount", "created")

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Payouts come from completing an order, once each.
        return False
