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


def test_a_mention_written_as_an_entity_is_still_a_mention():
    # Markdown decodes "&#64;" to "@" in the text the reader sees highlighted.
    assert mention_candidates("hi &#64;alice and &commat;bob") == ["alice", "bob"]
    assert mention_candidates("nobody named here, &amp; no at sign") == []


LINK = 'target="_blank" rel="nofollow noopener noreferrer"'

# What a body may contain and what is stored for it: markup only from the Markdown
# subset, every tag and attribute typed by hand inert text.
SAFETY_TABLE = [
    ("<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"),
    ("<img src=x onerror=alert(1)>", "<p>&lt;img src=x onerror=alert(1)&gt;</p>"),
    ('<a href="javascript:alert(1)">x</a>', "<p>&lt;a href=&quot;javascript:alert(1)&quot;&gt;x&lt;/a&gt;</p>"),
    ("[x](javascript:alert(1))", "<p>[x](javascript:alert(1))</p>"),
    ("[x](JaVaScRiPt:alert(1))", "<p>[x](JaVaScRiPt:alert(1))</p>"),
    ("<javascript:alert(1)>", "<p>&lt;javascript:alert(1)&gt;</p>"),
    ("javascript:alert(1)", "<p>javascript:alert(1)</p>"),
    ("[x](data:text/html,<b>hi</b>)", "<p>[x](data:text/html,&lt;b&gt;hi&lt;/b&gt;)</p>"),
    (
        '<div hx-get="/admin/" hx-trigger="load">x</div>',
        "<p>&lt;div hx-get=&quot;/admin/&quot; hx-trigger=&quot;load&quot;&gt;x&lt;/div&gt;</p>",
    ),
    (
        '[x](https://a.example/ "hx-get=/admin/")',
        f'<p><a href="https://a.example/" title="hx-get=/admin/" {LINK}>x</a></p>',
    ),
    ("`<b>code</b>`", "<p><code>&lt;b&gt;code&lt;/b&gt;</code></p>"),
    ("```\n<script>x</script>\n```", "<pre><code>&lt;script&gt;x&lt;/script&gt;\n</code></pre>"),
    (
        "***both*** **a _b_ c** ~~gone~~",
        "<p><em><strong>both</strong></em> <strong>a <em>b</em> c</strong> <s>gone</s></p>",
    ),
    ("> said\n\n- one\n- two", "<blockquote>\n<p>said</p>\n</blockquote>\n<ul>\n<li>one</li>\n<li>two</li>\n</ul>"),
    ("3. three\n4. four", '<ol start="3">\n<li>three</li>\n<li>four</li>\n</ol>'),
    ("see boostroom.com/x?a=1", f'<p>see <a href="http://boostroom.com/x?a=1" {LINK}>boostroom.com/x?a=1</a></p>'),
    ("[docs](https://docs.example)", f'<p><a href="https://docs.example" {LINK}>docs</a></p>'),
    # No headings; no remote images loaded into the chat (a plain link instead).
    (
        "# not a heading\n![img](https://x.example/a.png)",
        f'<p># not a heading<br>\n!<a href="https://x.example/a.png" {LINK}>img</a></p>',
    ),
]


@pytest.mark.parametrize(("body", "expected"), SAFETY_TABLE)
def test_markdown_safety_table(body, expected):
    assert render_body(body=body) == expected


@pytest.mark.parametrize(
    "body", ["*" * 10_000, "_" * 10_000, "*a " * 3_300, "[" * 5_000 + "]" * 5_000, "> " * 2_000 + "x"]
)
def test_pathological_bodies_render_in_bounded_time_and_size(body):
    import threading

    out: list[str] = []
    worker = threading.Thread(target=lambda: out.append(render_body(body=body)), daemon=True)
    worker.start()
    worker.join(timeout=20)  # generous: a quadratic blow-up takes minutes
    assert out, "rendering did not finish"
    assert len(out[0]) < 20 * len(body)
