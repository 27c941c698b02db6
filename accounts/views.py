from __future__ import annotations

from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts import selectors, services
from accounts.forms import NotificationSettingsForm
from rooms.selectors import muted_rooms


@login_required
@require_http_methods(["GET", "POST"])
def notification_settings(request: HttpRequest) -> HttpResponse:
    current = selectors.notification_settings_for(user=request.user)
    initial = {"email_window_minutes": int(selectors.email_window(current).total_seconds() // 60)}
    form = NotificationSettingsForm(request.POST or None, instance=current, initial=initial)
    if request.method == "POST" and form.is_valid():
        services.notification_settings_update(
            user=request.user,
            email_enabled=form.cleaned_data["email_enabled"],
            email_window_minutes=form.cleaned_data["email_window_minutes"],
        )
        flash.success(request, "Notification settings saved.")
        return redirect("accounts:notifications")
    context = {
        "form": form,
        "muted_rooms": muted_rooms(user=request.user),
        "vapid_public_key": settings.WEBPUSH_VAPID_PUBLIC_KEY,
    }
    return render(request, "accounts/notifications.html", context, status=400 if form.errors else 200)
