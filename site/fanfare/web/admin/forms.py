"""Editor forms: turn submitted fields into draft data, or into messages an editor can act on."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict

SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
RESULTS_MODES = {
    "live": _l("Live, while voting"),
    "after_close": _l("After voting closes"),
    "on_cue": _l("On cue: when an editor reveals them"),
}


class Invalid(ValueError):
    """A form had mistakes; `errors` maps field names to messages."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def parse_time(value: str) -> datetime | None:
    """A datetime-local value, read as UTC (the editor area shows every time in UTC)."""
    value = (value or "").strip()
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def time_value(moment: datetime | None) -> str:
    """A datetime as a datetime-local value in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M") if moment else ""


def _text(form: MultiDict, name: str, errors: dict, *, required: bool = False, limit=200) -> str:
    value = (form.get(name) or "").strip()
    if required and not value:
        errors[name] = _("This is required.")
    elif len(value) > limit:
        errors[name] = _("Keep it under %(num)s characters.", num=limit)
    return value


def _slug(form: MultiDict, errors: dict) -> str:
    value = (form.get("slug") or "").strip().lower()
    if not SLUG.match(value):
        errors["slug"] = _("Use lower-case letters, digits and single hyphens, like nova-reyes.")
    return value


def _int(form: MultiDict, name: str, errors: dict, low: int, high: int, default: int) -> int:
    raw = (form.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        errors[name] = _("Enter a whole number.")
        return default
    if not low <= value <= high:
        errors[name] = _("Enter a number from %(low)s to %(high)s.", low=low, high=high)
    return value


def _time(form: MultiDict, name: str, errors: dict) -> datetime | None:
    try:
        return parse_time(form.get(name, ""))
    except ValueError:
        errors[name] = _("Enter a date and time.")
        return None


def event(form: MultiDict) -> dict:
    """Fields of an event."""
    errors: dict[str, str] = {}
    data = {
        "slug": _slug(form, errors),
        "name": _text(form, "name", errors, required=True),
        "tagline": _text(form, "tagline", errors),
        "starts_at": _time(form, "starts_at", errors),
    }
    if errors:
        raise Invalid(errors)
    return data


def category(form: MultiDict) -> dict:
    """Fields of a category, with its voting windows (existing ones carry their id)."""
    errors: dict[str, str] = {}
    data = {
        "slug": _slug(form, errors),
        "name": _text(form, "name", errors, required=True),
        "description": _text(form, "description", errors, limit=1000),
        "position": _int(form, "position", errors, 0, 10_000, 0),
        "max_votes_per_voter": _int(form, "max_votes_per_voter", errors, 1, 100, 1),
        "results_mode": form.get("results_mode", "live"),
        # While the split is hidden, fans may still see how many votes have been counted.
        "show_turnout": form.get("show_turnout") == "1",
    }
    if data["results_mode"] not in RESULTS_MODES:
        errors["results_mode"] = _("Choose when results are shown.")
    windows = []
    for index in form.getlist("window"):
        if form.get(f"window-{index}-remove"):
            continue
        opens = _time(form, f"window-{index}-opens_at", errors)
        closes = _time(form, f"window-{index}-closes_at", errors)
        if opens is None and closes is None:
            continue
        if opens is None or closes is None or closes <= opens:
            errors[f"window-{index}"] = _("A voting window needs an opening before its closing.")
            continue
        window_id = form.get(f"window-{index}-id")
        windows.append(
            {"id": int(window_id) if window_id else None, "opens_at": opens, "closes_at": closes}
        )
    data["windows"] = sorted(windows, key=lambda w: w["opens_at"])
    if errors:
        raise Invalid(errors)
    return data


def nominee(form: MultiDict, photo_id: int | None) -> dict:
    """Fields of a nominee; the photo comes from its own upload form."""
    errors: dict[str, str] = {}
    data = {
        "slug": _slug(form, errors),
        "name": _text(form, "name", errors, required=True),
        "tagline": _text(form, "tagline", errors),
        "bio": _text(form, "bio", errors, limit=20_000),
        "position": _int(form, "position", errors, 0, 10_000, 0),
        "photo_id": None if form.get("remove_photo") else photo_id,
    }
    if errors:
        raise Invalid(errors)
    return data


# The longest text each translatable field takes: the same as the default language's forms.
TEXT_LIMITS = {"name": 200, "tagline": 200, "description": 1000, "bio": 20_000}


def translation(form: MultiDict, fields: tuple[str, ...]) -> dict:
    """The texts of a translation; each may be empty (fans then see the default language's)."""
    errors: dict[str, str] = {}
    data = {name: _text(form, name, errors, limit=TEXT_LIMITS[name]) for name in fields}
    if errors:
        raise Invalid(errors)
    return data
