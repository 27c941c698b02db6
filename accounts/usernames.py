"""What a username may be, beyond Django's own validator: one spelling per name
(NFKC), nothing invisible or direction-changing, and no look-alike of a name
someone already has (`admın` with a dotless ı next to `admin`).

Look-alikes are found by comparing skeletons, as Unicode's UTS #39 does: each
character is replaced by the one it can be mistaken for, from the Unicode
confusables data that confusable_homoglyphs ships (so no table is kept here).
"""

from __future__ import annotations

import unicodedata

from confusable_homoglyphs import confusables
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

USERNAME_INVISIBLE = "Usernames cannot contain invisible, spacing or text-direction characters."
USERNAME_LOOKALIKE = "That username looks too much like someone else's. Please choose another."

# Letters that draw nothing (Hangul fillers, the blank Braille pattern); every
# other invisible character is in a C* (control, format) or Z* (space) category.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# Characters outside printable ASCII; only such names need a skeleton computed.
_NON_ASCII = r"[^ -~]"


def normalize(username: str) -> str:
    """The one spelling of a username: full-width `ａｌｉｃｅ` is `alice`."""
    return unicodedata.normalize("NFKC", username or "").strip()


def check_characters(username: str) -> None:
    if any(unicodedata.category(char)[0] in "CZ" or char in _BLANK_LETTERS for char in username):
        raise ValidationError(USERNAME_INVISIBLE, code="username_invisible")


def skeleton(username: str) -> str:
    """What a name looks like: names with the same skeleton can be mistaken for each other."""
    return "".join(_prototype(char) for char in normalize(username).casefold()).casefold()


def _prototype(char: str) -> str:
    if char.isascii():
        return char
    glyphs = [glyph["c"] for glyph in confusables.confusables_data.get(char, ())]
    ascii_glyphs = [glyph for glyph in glyphs if glyph.isascii()]
    return (ascii_glyphs or glyphs or [char])[0]


def check_lookalike(username: str, *, exclude_user_id: int | None = None) -> None:
    """Refuse a name that looks like an existing one (its own exact spelling,
    case aside, is the username field's uniqueness check)."""
    key = skeleton(username)
    users = get_user_model().objects.all()
    if exclude_user_id is not None:
        users = users.exclude(pk=exclude_user_id)
    users = users.exclude(username__iexact=username)
    # ASCII names are their own skeleton; only the non-ASCII ones need computing.
    if users.filter(username__iexact=key).exists() or any(
        skeleton(name) == key for name in users.filter(username__regex=_NON_ASCII).values_list("username", flat=True)
    ):
        raise ValidationError(USERNAME_LOOKALIKE, code="username_lookalike")
