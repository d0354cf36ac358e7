"""Request bodies are capped before any work: MAX_CONTENT_LENGTH, smaller for the tiny forms.

A body over its cap is refused with 413 from its Content-Length alone, before a throttle, a
form parser or a temporary file sees a byte of it; a chunked body without Content-Length is
cut off at the same cap by Werkzeug while it is read. The photo upload sets its own, larger cap
in its view (web/admin/editing.py), so it is left to it here.
"""

from __future__ import annotations

from flask import Flask, abort, current_app, request

# Forms of a few short fields (a vote, a sign-in) whose bodies are parsed before the throttle.
SMALL_FORMS = frozenset({"votes.cast", "admin.login"})
OWN_CAP = frozenset({"admin.upload_photo"})


def body_cap() -> int | None:
    """The most bytes this request's body may have; None where the view sets its own."""
    if request.endpoint in OWN_CAP:
        return None
    if request.endpoint in SMALL_FORMS:
        return int(current_app.config["SMALL_FORM_MAX_CONTENT_LENGTH"])
    return int(current_app.config["MAX_CONTENT_LENGTH"])


def _refuse_oversized() -> None:
    """413 at once when the declared body is too big; cap what a chunked body may read."""
    cap = body_cap()
    if cap is None:
        return
    request.max_content_length = cap
    if request.content_length is not None and request.content_length > cap:
        abort(413, description=f"That was more than we can take ({cap // 1024} KB at most).")


def init_app(app: Flask) -> None:
    """Run first among the request hooks, so nothing reads a body before its size is known."""
    app.before_request_funcs.setdefault(None, []).insert(0, _refuse_oversized)
