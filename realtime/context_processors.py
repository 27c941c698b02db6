from django.http import HttpRequest


def csp_nonce(request: HttpRequest) -> dict:
    """django-htmx's {% htmx_script %} reads `csp_nonce` from the context."""
    return {"csp_nonce": getattr(request, "csp_nonce", "")}
