"""Bodies are formatted once, when stored, and whatever was typed stays inert."""

import pytest

from rooms import services
from rooms.formatting import render_body
from rooms.mentions import mention_candidates, mentioned_users

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("**bold** _it_ ~~gone~~ `x`", "<p><strong>bold</strong> <em>it</em> <s>gone</s> <code>x</code></p>"),
        ("<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"),
        ('<img src=x onerror="alert(1)">', "<p>&lt;img src=x onerror=&quot;alert(1)&quot;&gt;</p>"),
        ("[x](javascript:alert(1))", "<p>[x](javascript:alert(1))</p>"),
    ],
)
def test_markdown_subset_and_inert_html(body, expected):
    assert render_body(body=body) == expected


def test_mentions_of_readers_become_links_and_others_stay_text(group, make_user):
    room, owner, member = group
    outsider = make_user()
    body = f"hi @{member.username.upper()}, @{outsider.username} and `@{member.username}`"
    assert mentioned_users(room=room, body=body) == [member]

    message = services.message_post(room=room, author=owner, body=body)

    assert list(message.mentions.all()) == [member]
    assert message.body_html.count('class="mention"') == 1
    assert f'data-user-id="{member.pk}"' in message.body_html
    assert f"@{outsider.username}" in message.body_html


def test_mention_candidates_drop_trailing_punctuation():
    assert mention_candidates("@alice. @bob-") == ["alice.", "alice", "bob-", "bob"]
    assert mention_candidates("mail me at x@alice.com") == []
