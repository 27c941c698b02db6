"""Small display helpers for the message partial: the same output for every
viewer, so a pushed message is still rendered once."""

from __future__ import annotations

from django import template

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


@register.simple_tag
def reaction_groups(message) -> list[dict]:
    """Reactions by emoji, in the order first used: emoji, count, who (names and ids)."""
    groups: dict[str, dict] = {}
    for reaction in message.reactions.all():
        group = groups.setdefault(reaction.emoji, {"emoji": reaction.emoji, "names": [], "ids": []})
        group["names"].append(reaction.user.username)
        group["ids"].append(reaction.user_id)
    return list(groups.values())
