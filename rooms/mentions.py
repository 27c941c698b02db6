"""@mentions: which readers of a room a message names.

Recognised once, when the message is stored; the formatter turns the same names
into links, and the conversation state counts them apart from plain unread.
"""

from __future__ import annotations

import re

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q

from rooms.models import Room
from rooms.selectors import can_read

# Django usernames are letters, digits and @.+-_; a mention ends before an @, and
# trailing punctuation ("@alice.") is tried without it.
MENTION = re.compile(r"(?<![\w@])@([\w.+-]{1,150})")
TRAILING = ".+-"
MAX_MENTIONS = 20


def mention_candidates(body: str) -> list[str]:
    """Every name after an @, with and without trailing punctuation, lowercased;
    only where the formatter would link it (not in code), so what is recorded
    and counted is what the reader sees highlighted."""
    from rooms.formatting import mentionable_texts  # formatting imports this module

    # Most messages name nobody: no @ (nor an entity, "&#64;", that Markdown turns
    # into one), so no Markdown parse to look for one in.
    if "@" not in body and "&" not in body:
        return []
    names: list[str] = []
    for match in (m for text in mentionable_texts(body) for m in MENTION.finditer(text)):
        name = match.group(1).lower()
        while name:
            if name not in names:
                names.append(name)
            if name[-1] not in TRAILING:
                break
            name = name[:-1]
    return names[: MAX_MENTIONS * 3]


def mentioned_users(*, room: Room, body: str) -> list[AbstractBaseUser]:
    """The users `body` mentions who may read `room`; anyone else is plain text."""
    candidates = mention_candidates(body)
    if not candidates:
        return []
    query = Q()
    for name in candidates:
        query |= Q(username__iexact=name)
    users = get_user_model().objects.filter(query, is_active=True).order_by("pk")[:MAX_MENTIONS]
    return [user for user in users if can_read(room=room, user=user)]
