"""Photos: an upload becomes WebP and JPEG renditions named by content hash, served as immutable.

Renditions are written to temporary files and renamed into place, and the `photos` row is
inserted last, so a failure at any step leaves no half-written file and no row pointing nowhere.
The rendition list in photos.renditions ([{"width", "height", "format", "path"}]) is what the
`photo()` macro in templates/macros.html turns into srcset.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import warnings
from pathlib import Path

import psycopg
from flask import Blueprint, Flask, abort, current_app, send_from_directory
from flask.wrappers import Response
from PIL import Image, ImageOps, UnidentifiedImageError
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from fanfare.http.bodies import has_unsafe_text
from fanfare.http.cache_policy import immutable
from fanfare.infra import sql
from fanfare.settings import ROOT

MAX_BYTES = 10 * 1024 * 1024
# Beyond this an image is a decompression bomb, not a portrait.
MAX_PIXELS = 50_000_000
FORMATS = {"JPEG", "PNG", "WEBP"}
WIDTHS = (160, 320, 640, 1280)
OUTPUTS = (("webp", "WEBP", {"quality": 80, "method": 4}), ("jpeg", "JPEG", {"quality": 82}))

bp = Blueprint("media", __name__)
Q = sql.queries("media")


class PhotoError(ValueError):
    """The upload is not a photo we accept; the message is for the editor."""


def open_upload(data: bytes) -> Image.Image:
    """Check size and format, then decode; raise PhotoError with a clear reason."""
    if not data:
        raise PhotoError("The file is empty. Choose a JPEG, PNG or WebP photo.")
    if len(data) > MAX_BYTES:
        raise PhotoError("The photo is larger than 10 MB. Please upload a smaller file.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in FORMATS:
                raise PhotoError("Only JPEG, PNG and WebP photos can be uploaded.")
            if image.width * image.height > MAX_PIXELS:
                raise PhotoError("The photo has too many pixels. Please upload a smaller one.")
            image.load()
    except PhotoError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoError("That file is not a JPEG, PNG or WebP photo.") from None
    except (OSError, SyntaxError, ValueError):
        raise PhotoError("The photo seems damaged and could not be read.") from None
    return image


def renditions(image: Image.Image, digest: str) -> list[tuple[dict, bytes]]:
    """Upright, metadata-free renditions at each width up to the original's (never upscaled)."""
    upright = ImageOps.exif_transpose(image)
    has_alpha = upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info
    rgba = upright.convert("RGBA" if has_alpha else "RGB")
    widths = [w for w in WIDTHS if w <= rgba.width] or [rgba.width]
    out = []
    for width in widths:
        height = max(1, round(rgba.height * width / rgba.width))
        scaled = rgba.resize((width, height), Image.Resampling.LANCZOS)
        # Nothing from the original's metadata (EXIF, XMP, GPS, ICC) travels with it.
        scaled.info = {}
        for ext, fmt, options in OUTPUTS:
            frame = scaled
            if fmt == "JPEG" and has_alpha:
                frame = Image.new("RGB", scaled.size, "white")
                frame.paste(scaled, mask=scaled.getchannel("A"))
            buffer = io.BytesIO()
            frame.save(buffer, fmt, **options)
            path = f"{digest[:2]}/{digest}-{width}.{ext}"
            out.append(({"width": width, "height": height, "format": ext, "path": path}, buffer))
    return [(meta, buffer.getvalue()) for meta, buffer in out]


def _write_atomically(root: Path, relative: str, data: bytes) -> bool:
    """Write a file through a temp file and rename; False if it existed already (same hash)."""
    target = root / relative
    if target.exists():
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def store(conn: psycopg.Connection, data: bytes, alt: str, media_root: Path) -> dict:
    """Validate, render and store an upload; return its photos row."""
    if has_unsafe_text(alt):  # a multipart form skips http/bodies.py's text check: do it here
        raise PhotoError("The description holds invisible control characters. Please retype it.")
    image = open_upload(data)
    digest = hashlib.sha256(data).hexdigest()
    upright = ImageOps.exif_transpose(image)
    rendered = renditions(image, digest)
    written: list[Path] = []
    try:
        for meta, blob in rendered:
            if _write_atomically(media_root, meta["path"], blob):
                written.append(media_root / meta["path"])
        with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
            # The row comes last: it is what makes the files reachable from a page.
            return cur.execute(
                Q.store_photo,
                (
                    digest,
                    upright.width,
                    upright.height,
                    alt.strip(),
                    Jsonb([meta for meta, _ in rendered]),
                ),
            ).fetchone()
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise


def media_root() -> Path:
    """Where renditions live: MEDIA_ROOT, a relative path being relative to the repository."""
    return ROOT / current_app.config["MEDIA_ROOT"]


def get_photo(conn: psycopg.Connection, photo_id: int | None) -> dict | None:
    """A photos row by id."""
    if photo_id is None:
        return None
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(Q.photo_by_id, (photo_id,)).fetchone()


@bp.get("/media/<path:name>")
def media_file(name: str) -> Response:
    """Serve a rendition; its name is its content, so it is cached forever."""
    if name.startswith(".") or "/." in name:
        abort(404)
    response = send_from_directory(
        media_root(), name, max_age=31536000, conditional=True, etag=True
    )
    return immutable(response)


def init_app(app: Flask) -> None:
    """Serve /media/ from MEDIA_ROOT."""
    app.register_blueprint(bp)
