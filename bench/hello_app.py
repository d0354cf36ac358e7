"""The ceiling: Flask "hello world", run under the same gunicorn settings as fanfare's ingest.

No service in Python on this server can answer faster than this, so it bounds what ingest can do.
"""

from __future__ import annotations

from flask import Flask

app = Flask(__name__)


@app.route("/votes", methods=["GET", "POST"])
def hello() -> tuple[str, int]:
    """The smallest possible answer."""
    return "Hello, world!", 202
