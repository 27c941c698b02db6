from __future__ import annotations

from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import reswap

from accounts import selectors, services
from accounts.cookies import remember_theme
from accounts.forms import PreferencesForm, ThemeForm
from rooms.selectors import muted_rooms

SETTINGS = "accounts/settings.html"
SETTINGS_SAVED = "Settings saved."
CSRF_FAILED_HEADING = "This form has expired"
CSRF_FAILED = (
    "Nothing was changed: the form's security token is missing or out of date "
    "(you may have logged in or out in another tab). Reload the page and try again."
)


def _back(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.headers.get("referer") or "/"
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return "/"


@require_POST
def theme_choose(request: HttpRequest) -> HttpResponse:
    """The header's theme menu. With htmx the answer is the new #theme-state
    (static/js/boostroom.js applies it); without, a redirect back."""
    form = ThemeForm(request.POST)
    if not form.is_valid():
        # The menu offers valid themes only; this is a forged or stale request.
        return HttpResponse(services.UNKNOWN_THEME, status=400, content_type="text/plain")
    theme = form.cleaned_data["theme"]
    if request.user.is_authenticated:
        services.preferences_update(user=request.user, theme=theme)
    if request.htmx:
        response = render(request, "base.html#theme-state", {"theme": theme, "oob": True})
    else:
        response = redirect(_back(request))
    remember_theme(response, theme)
    return response


@login_required
@require_http_methods(["GET", "POST"])
def account_settings(request: HttpRequest) -> HttpResponse:
    form = PreferencesForm(request.POST or None, instance=selectors.preferences_for(user=request.user))
    # Notifications in this browser (desktop, Web Push) and the muted chats, below the form.
    context = {
        "form": form,
        "muted_rooms": muted_rooms(user=request.user),
        "vapid_public_key": settings.WEBPUSH_VAPID_PUBLIC_KEY,
    }
    if request.method == "POST":
        if not form.is_valid():
            return render(request, SETTINGS, context, status=400)
        services.preferences_update(user=request.user, **form.cleaned_data)
        flash.success(request, SETTINGS_SAVED)
        response = redirect("accounts:settings")
        remember_theme(response, form.cleaned_data["theme"])
        return response
    return render(request, SETTINGS, context)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: the site's 403 page saying what happened, or for htmx
    the same words beside the page, which stays as it is (the swap of the acting
    element is cancelled; only #page-error changes)."""
    if getattr(request, "htmx", False):
        response = render(request, "base.html#page-error", {"page_error": CSRF_FAILED, "oob": True}, status=403)
        return reswap(response, "none")
    context = {"error_heading": CSRF_FAILED_HEADING, "error_message": CSRF_FAILED}
    return render(request, "403.html", context, status=403)
