"""Message bodies rendered once, when stored: a Markdown subset through
markdown-it-py's `js-default` preset (raw HTML is text, not markup; bare URLs
become links through linkify-it-py), then sanitized again with nh3, so what
every view shows is safe by construction."""

from __future__ import annotations

import re
from collections.abc import Iterable

import nh3
from django.contrib.auth.models import AbstractBaseUser
from django.urls import reverse
from markdown_it import MarkdownIt
from markdown_it.token import Token

from rooms.mentions import MENTION, TRAILING

_markdown = (
    MarkdownIt("js-default", {"breaks": True, "linkify": True})
    .enable("linkify")
    .disable(["image", "heading", "lheading", "hr", "table"])
)

ALLOWED_TAGS = {
    "p", "br", "strong", "em", "s", "del", "code", "pre", "blockquote", "ul", "ol", "li", "a",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title", "class", "data-user-id", "target"}, "ol": {"start"}, "code": {"class"}}


def _only_blank_target(tag: str, attribute: str, value: str) -> str | None:
    # Links leave the chat in a new tab; no other target (a named frame) survives.
    if attribute == "target":
        return value if value == "_blank" else None
    return value


def render_body(*, body: str, mentions: Iterable[AbstractBaseUser] = ()) -> str:
    """The stored HTML of a message body; `mentions` (users) become links."""
    by_name = {user.username.lower(): user for user in mentions}
    env: dict = {}
    tokens = _markdown.parse(body, env)
    _open_links_in_a_new_tab(tokens)
    if by_name:
        _link_mentions(tokens, by_name)
    html = _markdown.renderer.render(tokens, _markdown.options, env)
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_only_blank_target,
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener noreferrer",
    )
    return _escape_quotes_in_text(clean).strip()


# nh3 escapes every < and > in text, so this split finds real tags only.
_TAG = re.compile(r"(<[^>]*>)")


def _escape_quotes_in_text(html: str) -> str:
    """nh3 leaves quotes in text bare; escaping them keeps a typed `hx-get="…"`
    unmistakably text, wherever the stored HTML is later placed."""
    parts = _TAG.split(html)
    for index in range(0, len(parts), 2):
        parts[index] = parts[index].replace('"', "&quot;").replace("'", "&#x27;")
    return "".join(parts)


def _open_links_in_a_new_tab(tokens: list[Token]) -> None:
    for block in tokens:
        for child in block.children or ():
            if child.type == "link_open":
                child.attrSet("target", "_blank")


def mentionable_texts(body: str) -> list[str]:
    """The pieces of `body` where an @name is a mention: text, never code or a link's text."""
    texts: list[str] = []
    for block in _markdown.parse(body, {}):
        if block.type != "inline" or not block.children:
            continue
        inside_link = 0
        for child in block.children:
            inside_link += {"link_open": 1, "link_close": -1}.get(child.type, 0)
            if child.type == "text" and not inside_link:
                texts.append(child.content)
    return texts


def _link_mentions(tokens: list[Token], by_name: dict[str, AbstractBaseUser]) -> None:
    """Split text tokens (never code) around known @names into link tokens."""
    for block in tokens:
        if block.type != "inline" or not block.children:
            continue
        children: list[Token] = []
        inside_link = 0
        for child in block.children:
            inside_link += {"link_open": 1, "link_close": -1}.get(child.type, 0)
            if child.type == "text" and not inside_link:
                children.extend(_split_text(child.content, by_name))
            else:
                children.append(child)
        block.children = children


def _split_text(text: str, by_name: dict[str, AbstractBaseUser]) -> list[Token]:
    out: list[Token] = []
    position = 0
    for match in MENTION.finditer(text):
        name = match.group(1)
        while name and name.lower() not in by_name and name[-1] in TRAILING:
            name = name[:-1]
        user = by_name.get(name.lower())
        if user is None:
            continue
        start, end = match.start(), match.start(1) + len(name)
        if start > position:
            out.append(_text(text[position:start]))
        link = Token("link_open", "a", 1, attrs={
            "href": reverse("rooms:private", args=[user.username]), "class": "mention", "data-user-id": str(user.pk),
        })  # fmt: skip
        out.extend([link, _text("@" + user.username), Token("link_close", "a", -1)])
        position = end
    if position < len(text):
        out.append(_text(text[position:]))
    return out


def _text(content: str) -> Token:
    token = Token("text", "", 0)
    token.content = content
    return token
