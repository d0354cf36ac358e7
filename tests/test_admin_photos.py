"""Photo uploads: hash-named renditions, EXIF gone, orientation applied, bad files refused."""

from __future__ import annotations

import io
import re
from pathlib import Path

import psycopg
import pytest
from PIL import Image
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from fanfare.app import create_web_app
from fanfare.infra import db
from fanfare.web.admin import accounts

PASSWORD = "correct horse battery staple"


ORIENTATION, MAKE, DESCRIPTION = 0x0112, 0x010F, 0x010E


@pytest.fixture
def media_root(tmp_path) -> Path:
    return tmp_path / "media"


@pytest.fixture
def app(demo, redis_url, media_root, app_settings):
    app = create_web_app(app_settings(demo, redis_url, MEDIA_ROOT=str(media_root)))
    yield app
    db.close(app)


@pytest.fixture
def editor(client, demo):
    """A signed-in editor client, and Nova Reyes's id."""
    with psycopg.connect(demo) as conn:
        accounts.create_editor(conn, "ed@example.org", PASSWORD)
        (nominee,) = conn.execute("SELECT id FROM nominees WHERE slug = 'nova-reyes'").fetchone()
    client.post("/admin/login", data={"email": "ed@example.org", "password": PASSWORD})
    return client, nominee


def jpeg_with_exif(width=800, height=400) -> bytes:
    """A landscape JPEG whose EXIF says 'rotate 90° clockwise' and carries private details."""
    image = Image.new("RGB", (width, height), "red")
    image.paste(Image.new("RGB", (width // 2, height), "blue"), (width // 2, 0))
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    exif[MAKE] = "SecretCam"
    exif[DESCRIPTION] = "Taken at 12 Private Street"
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif, quality=90)
    return buffer.getvalue()


def upload(client, nominee, data: bytes, filename="photo.jpg", alt="Nova on stage"):
    # Encoded in memory: the test client would spool a large body to a file nobody closes.
    boundary, body = encode_multipart(
        {"photo": FileStorage(io.BytesIO(data), filename=filename), "alt": alt}
    )
    return client.post(
        f"/admin/nominees/{nominee}/photo",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_an_upload_becomes_upright_metadata_free_renditions(editor, demo, media_root, client):
    client, nominee = editor
    response = upload(client, nominee, jpeg_with_exif())

    assert response.status_code == 303
    with psycopg.connect(demo) as conn:
        digest, width, height, renditions, alt = conn.execute(
            "SELECT digest, width, height, renditions, alt FROM photos"
        ).fetchone()
        draft = conn.execute("SELECT data->>'photo_id' FROM drafts").fetchone()[0]
    assert (width, height, alt) == (400, 800, "Nova on stage")  # orientation applied
    # 640 and 1280 would be upscaled from a 400-pixel-wide original, so they are not made.
    assert sorted((r["width"], r["format"]) for r in renditions) == [
        (160, "jpeg"),
        (160, "webp"),
        (320, "jpeg"),
        (320, "webp"),
    ]
    assert draft is not None
    assert [p.relative_to(media_root).as_posix() for p in files_under(media_root)] == sorted(
        r["path"] for r in renditions
    )
    for r in renditions:
        assert r["path"] == f"{digest[:2]}/{digest}-{r['width']}.{r['format']}"
        with Image.open(media_root / r["path"]) as image:
            assert image.format == {"jpeg": "JPEG", "webp": "WEBP"}[r["format"]]
            assert image.size == (r["width"], r["width"] * 2)
            assert len(image.getexif()) == 0
            assert "exif" not in image.info and "xmp" not in image.info
        raw = (media_root / r["path"]).read_bytes()
        assert b"SecretCam" not in raw and b"Private Street" not in raw

    served = client.get("/media/" + renditions[0]["path"])
    assert served.status_code == 200
    assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert served.headers["Content-Type"].startswith("image/")
    assert "Set-Cookie" not in served.headers
    served.close()


def test_the_fan_page_gets_the_photo_only_after_publishing(editor, client):
    client, nominee = editor
    upload(client, nominee, jpeg_with_exif())
    assert "<picture>" not in client.get("/nominees/nova-reyes").get_data(as_text=True)
    preview = client.get(f"/admin/nominees/{nominee}/preview").get_data(as_text=True)
    assert "<picture>" in preview

    client.post(f"/admin/nominees/{nominee}/publish")

    html = client.get("/nominees/nova-reyes").get_data(as_text=True)
    img = re.search(r"<img [^>]*>", html).group(0)
    assert 'width="400"' in img and 'height="800"' in img and 'alt="Nova on stage"' in img
    jpeg_srcset = r'srcset="/media/\w\w/\w+-160\.jpeg 160w, /media/\w\w/\w+-320\.jpeg 320w"'
    assert re.search(jpeg_srcset, img)
    assert re.search(r'<source type="image/webp" srcset="[^"]*-320\.webp 320w"', html)
    lazy = client.get("/awards/breakthrough-artist").get_data(as_text=True)
    assert "/media/" in lazy


def test_a_small_png_with_transparency_is_not_upscaled(editor, demo, client):
    client, nominee = editor
    buffer = io.BytesIO()
    Image.new("RGBA", (100, 120), (255, 0, 0, 128)).save(buffer, "PNG")

    assert upload(client, nominee, buffer.getvalue(), "small.png").status_code == 303
    with psycopg.connect(demo) as conn:
        (renditions,) = conn.execute("SELECT renditions FROM photos").fetchone()
    assert sorted((r["width"], r["height"], r["format"]) for r in renditions) == [
        (100, 120, "jpeg"),
        (100, 120, "webp"),
    ]


@pytest.mark.parametrize(
    ("data", "filename", "status", "message"),
    [
        (b"just some text, not a photo", "photo.jpg", 400, "not a JPEG, PNG or WebP photo"),
        (b"GIF89a" + b"\x00" * 64, "photo.gif", 400, "not a JPEG, PNG or WebP photo"),
        (b"", "empty.jpg", 400, "Choose a JPEG, PNG or WebP photo"),
        (jpeg_with_exif()[:600], "cut.jpg", 400, "damaged"),
        (b"\xff\xd8\xff" + b"\x00" * (11 * 1024 * 1024), "huge.jpg", 413, "larger than 10 MB"),
    ],
)
def test_a_bad_upload_gets_a_clear_error_and_writes_nothing(
    editor, demo, media_root, client, data, filename, status, message
):
    client, nominee = editor
    response = upload(client, nominee, data, filename)

    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "private, no-store"
    assert files_under(media_root) == []
    with psycopg.connect(demo) as conn:
        assert conn.execute("SELECT count(*) FROM photos").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM drafts").fetchone() == (0,)


def test_a_real_gif_is_refused_by_format(editor, media_root, client):
    client, nominee = editor
    buffer = io.BytesIO()
    Image.new("RGB", (50, 50), "green").save(buffer, "GIF")
    response = upload(client, nominee, buffer.getvalue(), "anim.gif")
    assert response.status_code == 400
    assert "Only JPEG, PNG and WebP" in response.get_data(as_text=True)
    assert files_under(media_root) == []


def test_a_database_failure_leaves_no_files_behind(editor, demo, media_root, client):
    client, nominee = editor
    with psycopg.connect(demo) as conn:
        # A real failure at the last step: PostgreSQL refuses the photos row.
        conn.execute("ALTER TABLE photos ADD CONSTRAINT refuse_all CHECK (false) NOT VALID")

    response = upload(client, nominee, jpeg_with_exif())

    assert response.status_code == 500
    assert files_under(media_root) == []
    with psycopg.connect(demo) as conn:
        assert conn.execute("SELECT count(*) FROM drafts").fetchone() == (0,)
