"""The project's templates as Django reads them."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings


def test_every_short_comment_ends_on_its_own_line():
    # Django's {# #} comment is one line only: one that goes on to the next line
    # is not a comment at all, and the page shows it as text.
    unclosed = [
        f"{path.relative_to(settings.BASE_DIR)}:{number}"
        for folder in settings.TEMPLATES[0]["DIRS"]
        for path in sorted(Path(folder).rglob("*.html"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if re.search(r"\{#(?!.*#\})", line)
    ]
    assert unclosed == []
