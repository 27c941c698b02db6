"""Message search: PostgreSQL full text (GIN index) or SQLite FTS5, the same
query language on both (every word, each as a prefix), only over rooms the
user may read and never over deleted messages."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models.expressions import RawSQL
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from rooms import selectors
from rooms.models import Message, Room

MAX_TERMS = 8
MAX_TERM_LENGTH = 50
RESULT_LIMIT = 50
EXCERPT_CHARS = 160
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Hit:
    message: Message
    excerpt: SafeString  # the body around the first match, escaped, matches in <mark>


def search_terms(query: str) -> list[str]:
    words = [word[:MAX_TERM_LENGTH] for word in _WORD.findall((query or "").lower())]
    return list(dict.fromkeys(words))[:MAX_TERMS]


def messages_search(
    *,
    user: AbstractBaseUser,
    query: str,
    room: Room | None = None,
    before: int | None = None,
    limit: int = RESULT_LIMIT,
) -> list[Hit]:
    """Newest first. `room` narrows to one room (already checked readable);
    `before` pages on: only messages with a smaller id (the last one shown)."""
    terms = search_terms(query)
    if not terms:
        return []
    # Every result's room is checked against the user here, in the same query.
    rows = Message.objects.filter(deleted_at__isnull=True, room__in=selectors.readable_rooms(user=user))
    if room is not None:
        rows = rows.filter(room=room)
    if before is not None:
        rows = rows.filter(id__lt=before)
    rows = _matching(rows, terms)
    found = rows.select_related("room", "author", "author__avatar").order_by("-id")[:limit]
    return [Hit(message=message, excerpt=highlight(message.body, terms)) for message in found]


def _matching(rows, terms: list[str]):
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery, SearchVector

        # The words are \w+ only, so they cannot carry tsquery operators.
        query = SearchQuery(" & ".join(f"{term}:*" for term in terms), config="simple", search_type="raw")
        return rows.annotate(search=SearchVector("body", config="simple")).filter(search=query)
    # FTS5: each word quoted (no operators), as a prefix.
    match = " ".join(f'"{term}"*' for term in terms)
    return rows.filter(id__in=RawSQL("SELECT rowid FROM rooms_message_fts WHERE rooms_message_fts MATCH %s", (match,)))


def highlight(body: str, terms: list[str]) -> SafeString:
    """An escaped excerpt of `body` with every word starting with a term marked."""
    pattern = re.compile(r"\b(?:" + "|".join(re.escape(term) for term in terms) + r")\w*", re.IGNORECASE)
    first = pattern.search(body)
    start = max(0, (first.start() if first else 0) - EXCERPT_CHARS // 3)
    text = body[start : start + EXCERPT_CHARS]
    out, position = [], 0
    for match in pattern.finditer(text):
        out.append(escape(text[position : match.start()]))
        out.append(f"<mark>{escape(match.group(0))}</mark>")
        position = match.end()
    out.append(escape(text[position:]))
    prefix = "…" if start else ""
    suffix = "…" if start + EXCERPT_CHARS < len(body) else ""
    return mark_safe(prefix + "".join(out) + suffix)  # every piece of the body went through escape()
