"""Jinja filters for the fan pages."""

from __future__ import annotations

import nh3
from flask import Flask
from markdown_it import MarkdownIt
from markupsafe import Markup

# CommonMark with raw HTML switched off; nh3 then keeps only these tags, so a bio can hold
# emphasis, links and lists but never a script, a style, an iframe or an event handler.
MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
BIO_TAGS = {"p", "br", "em", "strong", "a", "ul", "ol", "li", "blockquote", "code", "h3", "h4"}


def initials(name: str) -> str:
    """Up to two initials for a photo placeholder."""
    return "".join(part[0] for part in name.split()[:2]).upper()


def bio(text: str) -> Markup:
    """A nominee's Markdown bio as sanitized HTML."""
    html = MARKDOWN.render(text or "")
    return Markup(
        nh3.clean(
            html,
            tags=BIO_TAGS,
            attributes={"a": {"href", "title"}},
            url_schemes={"http", "https", "mailto"},
            link_rel="noopener noreferrer nofollow ugc",
        )
    )


def init_app(app: Flask) -> None:
    """Register the filters."""
    app.jinja_env.filters.update(initials=initials, bio=bio)
