"""Static files under content-hashed URLs, so the edge and browsers keep them forever."""

from __future__ import annotations

import hashlib
from pathlib import Path

from flask import Blueprint, Flask, abort, current_app, send_file
from flask.wrappers import Response

from fanfare.http.cache_policy import immutable
from fanfare.settings import ROOT

EXTENSION = "fanfare.assets"
bp = Blueprint("assets", __name__)


class Manifest:
    """Maps logical names (css/site.css) to hashed names (css/site.3f2a9c1b.css) and back."""

    def __init__(self, files: dict[str, Path]) -> None:
        self.hashed: dict[str, str] = {}
        self.paths: dict[str, Path] = {}
        for logical, path in files.items():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
            stem, dot, suffix = logical.rpartition(".")
            name = f"{stem}.{digest}.{suffix}" if dot else f"{logical}.{digest}"
            self.hashed[logical] = name
            self.paths[name] = path

    def url(self, logical: str) -> str:
        """The public URL of a logical static name."""
        return f"/static/{self.hashed[logical]}"


def collect(static_dir: Path, node_modules: Path) -> dict[str, Path]:
    """Our own static files plus the pinned htmx from node_modules."""
    files = {str(p.relative_to(static_dir)): p for p in static_dir.rglob("*") if p.is_file()}
    htmx = node_modules / "htmx.org" / "dist" / "htmx.min.js"
    if not htmx.exists():
        raise FileNotFoundError(f"{htmx} is missing: run `npm ci` (make does it for you)")
    files["vendor/htmx.min.js"] = htmx
    return files


@bp.get("/static/<path:name>")
def static_file(name: str) -> Response:
    """Serve a fingerprinted file; unhashed or stale names are 404."""
    path = current_app.extensions[EXTENSION].paths.get(name)
    if path is None:
        abort(404)
    return immutable(send_file(path, max_age=31536000, conditional=True, etag=True))


def init_app(app: Flask) -> None:
    """Hash the files once at start-up and expose asset_url() to templates."""
    manifest = Manifest(collect(ROOT / "static", Path(app.config["NODE_MODULES"])))
    app.extensions[EXTENSION] = manifest
    app.jinja_env.globals["asset_url"] = manifest.url
    app.register_blueprint(bp)
