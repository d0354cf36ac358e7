"""Request bodies are checked before any work: their size, their encoding, and their text.

- Size: MAX_CONTENT_LENGTH for every request, SMALL_FORM_MAX_CONTENT_LENGTH for the tiny forms
  (a vote, a sign-in). A body over its cap is refused with 413 from its Content-Length alone,
  before a throttle, a form parser or a temporary file sees a byte; a chunked body is cut off at
  the same cap by Werkzeug while it is read. The photo upload sets its own, larger cap in its
  view (web/admin/editing.py), so it is left to it here.
- Encoding: every form is url-encoded except the photo upload's; multipart elsewhere is 415,
  so nothing is ever spooled to disk where no file is expected.
- Text: a form must be valid UTF-8 (Werkzeug would replace bad bytes silently and store the
  result), must not repeat a field (which one would count?), and must not carry NUL and other
  control characters (PostgreSQL refuses NUL in text) or bidirectional overrides (text that
  displays differently from what it says). Refused with 400.
"""

from __future__ import annotations

import re
from collections import Counter
from urllib.parse import parse_qsl

from flask import Flask, abort, current_app, request
from werkzeug.datastructures import MultiDict

# Forms of a few short fields (a vote, a sign-in) whose bodies are parsed before the throttle.
SMALL_FORMS = frozenset({"votes.cast", "admin.login"})
# Views that take a multipart upload and enforce their own, larger cap.
UPLOADS = frozenset({"admin.upload_photo"})
# Machine-to-machine endpoints that check their own raw body (the HMAC-signed event feed).
JSON_ENDPOINTS = frozenset({"feed.receive"})
# Fields a form may repeat (a category's voting windows).
REPEATABLE = frozenset({"window"})
URLENCODED = "application/x-www-form-urlencoded"
# Where _check_form leaves the form it parsed and checked, for form() (one parse per request).
PARSED = "fanfare.form"
# C0 controls but TAB, LF and CR; DEL; the bidi embeddings, overrides and isolates.
FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


def has_unsafe_text(value: str) -> bool:
    """Whether text holds NUL, other control characters or bidi overrides (FORBIDDEN)."""
    return FORBIDDEN.search(value) is not None


def body_cap() -> int | None:
    """The most bytes this request's body may have; None where the view sets its own."""
    if request.endpoint in UPLOADS:
        return None
    if request.endpoint in SMALL_FORMS:
        return int(current_app.config["SMALL_FORM_MAX_CONTENT_LENGTH"])
    return int(current_app.config["MAX_CONTENT_LENGTH"])


def _check_size() -> None:
    """413 at once when the declared body is too big; cap what a chunked body may read."""
    cap = body_cap()
    if cap is None:
        return
    request.max_content_length = cap
    if request.content_length is not None and request.content_length > cap:
        abort(413, description=f"That was more than we can take ({cap // 1024} KB at most).")


def _check_form() -> None:
    """A url-encoded form of valid UTF-8, no repeated fields, no control or override chars."""
    req = request._get_current_object()  # one context lookup: this runs on every vote
    if req.endpoint in UPLOADS or req.method in ("GET", "HEAD", "OPTIONS"):
        return
    if req.endpoint in JSON_ENDPOINTS:  # verified by its own HMAC over the raw body
        return
    if req.routing_exception is not None:
        return  # no such route or method: its 404 or 405 says more than a 415 would
    if not req.content_length and "chunked" not in req.headers.get("Transfer-Encoding", ""):
        return
    if req.mimetype != URLENCODED:
        abort(415, description="Please send this form from the page it came from.")
    raw = req.get_data(cache=True)  # the form parser reads this cached copy later
    try:
        pairs = parse_qsl(
            raw.decode("utf-8"), keep_blank_values=True, errors="strict", max_num_fields=1000
        )
    except (UnicodeDecodeError, ValueError):
        abort(400, description="Some of that text could not be read. Please type it again.")
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        counts = Counter(names)
        if any(n > 1 and name not in REPEATABLE for name, n in counts.items()):
            abort(400, description="A field was sent twice. Please send the form again.")
    if any(has_unsafe_text(name) or has_unsafe_text(value) for name, value in pairs):
        abort(400, description="That text holds invisible control characters. Please retype it.")
    req.environ[PARSED] = MultiDict(pairs)


def form() -> MultiDict[str, str]:
    """This request's form, as checked above: parsed once, not again by Werkzeug's parser."""
    req = request._get_current_object()
    parsed = req.environ.get(PARSED)
    return req.form if parsed is None else parsed


def init_app(app: Flask) -> None:
    """Run first among the request hooks, so nothing reads a body before it is checked."""
    app.before_request_funcs.setdefault(None, [])[:0] = [_check_size, _check_form]
