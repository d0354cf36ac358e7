"""Jinja filters for the fan pages."""

from __future__ import annotations

from datetime import datetime

from flask import Flask
from markupsafe import Markup, escape


def when(moment: datetime) -> str:
    """A short, unambiguous time: 'Mon 23 Nov, 18:00 UTC'."""
    return moment.strftime("%a %d %b, %H:%M UTC")


def initials(name: str) -> str:
    """Up to two initials for a photo placeholder."""
    return "".join(part[0] for part in name.split()[:2]).upper()


def bio(text: str) -> Markup:
    """Plain text with blank-line paragraphs, escaped."""
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    return Markup("".join(f"<p>{escape(p)}</p>" for p in paragraphs))


def init_app(app: Flask) -> None:
    """Register the filters."""
    app.jinja_env.filters.update(when=when, initials=initials, bio=bio)
