"""A person's face: their uploaded picture, else initials on a colour fixed per
user. The same output for every viewer, so a pushed message is still rendered once."""

from __future__ import annotations

from django import template
from django.contrib.auth.base_user import AbstractBaseUser

from accounts.selectors import avatar_of

register = template.Library()

AVATAR_COLOURS = 8


@register.filter
def avatar_colour(user_id: int) -> int:
    """One of the palette's colours, fixed per user (tailwind/input.css `.avatar-N`)."""
    return (int(user_id or 0) * 5) % AVATAR_COLOURS


@register.filter
def initials(username: str) -> str:
    parts = [part for part in str(username).replace("_", " ").replace("-", " ").replace(".", " ").split() if part]
    if len(parts) >= 2:
        return (parts[0][0] + parts[1][0]).upper()
    return str(username)[:2].upper()


@register.inclusion_tag("accounts/avatar.html")
def avatar(person: AbstractBaseUser, size: str = "") -> dict:
    """`{% avatar user %}`, or `{% avatar user "sm" %}` for the small one of lists and the header."""
    picture = avatar_of(person)
    return {
        "url": picture.get_absolute_url() if picture else "",
        "colour": avatar_colour(person.pk),
        "initials": initials(person.username),
        "size": size,
    }
