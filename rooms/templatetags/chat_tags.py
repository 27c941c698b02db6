"""Small display helpers for the message partial: the same output for every
viewer, so a pushed message is still rendered once."""

from __future__ import annotations

from django import template

register = template.Library()


@register.simple_tag
def reaction_groups(message) -> list[dict]:
    """Reactions by emoji, in the order first used: emoji, count, who (names and ids)."""
    groups: dict[str, dict] = {}
    for reaction in message.reactions.all():
        group = groups.setdefault(reaction.emoji, {"emoji": reaction.emoji, "names": [], "ids": []})
        group["names"].append(reaction.user.username)
        group["ids"].append(reaction.user_id)
    return list(groups.values())
