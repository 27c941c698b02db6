from __future__ import annotations

from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap

from accounts import selectors, services
from accounts.cookies import remember_theme
from accounts.forms import PreferencesForm, ThemeForm
from rooms.selectors import muted_rooms
from uploads import delivery, limits, validation

SETTINGS = "accounts/settings.html"
SETTINGS_SAVED = "Settings saved."
AVATAR_SAVED = "Your picture is saved."
AVATAR_REMOVED = "Your picture is removed; people see your initials again."
# A picture's URL names one version of it (accounts.models.Avatar), so browsers may keep it long.
AVATAR_MAX_AGE = 7 * 24 * 3600
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


def _settings_page(
    request: HttpRequest, form: PreferencesForm | None = None, *, avatar_error: str = "", status: int = 200
) -> HttpResponse:
    form = form or PreferencesForm(instance=selectors.preferences_for(user=request.user))
    # Notifications in this browser (desktop, Web Push) and the muted chats, below the form.
    context = {
        "form": form,
        "muted_rooms": muted_rooms(user=request.user),
        "vapid_public_key": settings.WEBPUSH_VAPID_PUBLIC_KEY,
        "avatar": selectors.avatar_for(user_id=request.user.pk),
        "avatar_error": avatar_error,
        "upload_max_bytes": validation.max_upload_bytes(),
    }
    return render(request, SETTINGS, context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def account_settings(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _settings_page(request)
    form = PreferencesForm(request.POST, instance=selectors.preferences_for(user=request.user))
    if not form.is_valid():
        return _settings_page(request, form, status=400)
    services.preferences_update(user=request.user, **form.cleaned_data)
    flash.success(request, SETTINGS_SAVED)
    response = redirect("accounts:settings")
    remember_theme(response, form.cleaned_data["theme"])
    return response


@login_required
@require_POST
def avatar_upload(request: HttpRequest) -> HttpResponse:
    """A new picture from the settings page; a refused file leaves the old one."""
    # Counted before anything is read, so rejected attempts count too.
    if limits.upload_rate_exceeded(user=request.user):
        return _settings_page(request, avatar_error=limits.UPLOAD_RATE_LIMITED, status=429)
    if limits.upload_was_too_large(request):
        return _settings_page(request, avatar_error=validation.too_large_message(), status=413)
    try:
        image = validation.validate_upload(request.FILES.get("avatar"), images_only=True)
        services.avatar_set(user=request.user, image=image)
    except (validation.UploadRejected, services.AvatarError) as error:
        return _settings_page(request, avatar_error=str(error), status=422)
    flash.success(request, AVATAR_SAVED)
    return redirect("accounts:settings")


@login_required
@require_POST
def avatar_remove(request: HttpRequest) -> HttpResponse:
    if services.avatar_remove(user=request.user):
        flash.success(request, AVATAR_REMOVED)
    return redirect("accounts:settings")


@login_required
@require_GET
def avatar_file(request: HttpRequest, user_id: int, version: str) -> HttpResponse:
    """Anyone signed in may see anyone's picture: it shows beside every message
    they can read, and the same pushed fragment goes to every reader."""
    avatar = selectors.avatar_for(user_id=user_id)
    if avatar is None:
        raise Http404("No such picture.")
    if version != avatar.version:
        # A page opened before the picture changed: send it to the current one.
        response = redirect(avatar.get_absolute_url())
        response["Cache-Control"] = "private, no-cache"
        return response
    return delivery.file_response(name=avatar.thumbnail.name, max_age=AVATAR_MAX_AGE)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: the site's 403 page saying what happened, or for htmx
    the same words beside the page, which stays as it is (the swap of the acting
    element is cancelled; only #page-error changes)."""
    if getattr(request, "htmx", False):
        response = render(request, "base.html#page-error", {"page_error": CSRF_FAILED, "oob": True}, status=403)
        return reswap(response, "none")
    context = {"error_heading": CSRF_FAILED_HEADING, "error_message": CSRF_FAILED}
    return render(request, "403.html", context, status=403)
