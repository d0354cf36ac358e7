"""Hostile input to every unsafe endpoint: each gets a clear 4xx and nothing is stored.

One table (ENDPOINTS x CASES, plus each endpoint's own wrong types and missing fields) runs
in-process against the real apps, PostgreSQL and Redis; huge headers and a slow body go through
a real edge (Varnish's own limits) to real gunicorn processes.
"""

from __future__ import annotations

import io
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

import psycopg
import pytest
import redis
from ballots import open_ballot
from PIL import Image

from fanfare.app import create_ingest_app, create_web_app
from fanfare.infra import db
from fanfare.votes.stream import STREAM
from fanfare.web.admin import accounts

PASSWORD = "correct horse battery staple"
ADMIN = "boss@example.org"
HX = {"HX-Request": "true"}


@dataclass(frozen=True)
class Endpoint:
    name: str
    app: str  # "web" or "ingest"
    path: str  # {nominee} is filled in
    form: dict[str, str]  # a form this endpoint would accept
    wrong_types: dict[str, str] = field(default_factory=dict)
    required: str | None = None  # a field whose absence is refused


ENDPOINTS = [
    Endpoint(
        "vote",
        "ingest",
        "/votes",
        {"category": "{category}", "nominee": "{nominee}"},
        wrong_types={"category": "1e3", "nominee": "-4"},
        required="nominee",
    ),
    Endpoint("sign-in", "web", "/admin/login", {"email": ADMIN, "password": "not the password"}),
    Endpoint(
        "nominee draft",
        "web",
        "/admin/nominees/{nominee_id}",
        {
            "name": "Nova Reyes",
            "slug": "nova-reyes",
            "tagline": "Pop",
            "bio": "Hi",
            "position": "0",
        },
        wrong_types={"position": "first"},
        required="name",
    ),
    Endpoint(
        "new event",
        "web",
        "/admin/events/new",
        {"name": "Fan Awards 2027", "slug": "fan-awards-2027", "starts_at": "2027-11-28T20:00"},
        wrong_types={"starts_at": "next tuesday"},
        required="name",
    ),
    Endpoint(
        "new editor",
        "web",
        "/admin/editors",
        {"email": "new@example.org", "password": "a long enough password", "role": "editor"},
        wrong_types={"role": "superuser"},
        required="email",
    ),
    Endpoint("markdown preview", "web", "/admin/markdown", {"bio": "*hello*"}),
]


def raw_form(form: dict[str, str]) -> bytes:
    return urlencode(form).encode()


def hostile(endpoint: Endpoint, case: str, caps: dict[str, int]) -> tuple[bytes, str]:
    """(body, content type) of one hostile request built from the endpoint's good form."""
    form = dict(endpoint.form)
    first = next(iter(form))
    urlencoded = "application/x-www-form-urlencoded"
    if case == "oversized":
        cap = caps["small"] if endpoint.path in ("/votes", "/admin/login") else caps["all"]
        return raw_form(form) + b"&pad=" + b"x" * cap, urlencoded
    if case == "multipart":
        boundary = "hostile"
        parts = "".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
            for k, v in form.items()
        )
        return f"{parts}--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"
    if case == "repeated":
        return raw_form(form) + f"&{first}={quote(form[first])}".encode(), urlencoded
    if case == "json":
        return b'{"category": 1, "nominee": 2}', "application/json"
    bad_bytes = {
        "non-utf-8": b"%FF%FE",
        "overlong utf-8": b"%C0%AF",  # an overlong "/"
        "nul": b"%00",
        "rtl override": quote("\u202e").encode(),
        "raw control": b"%1B[2J",
    }
    if case in bad_bytes:
        form.pop(first)
        return f"{first}=".encode() + quote(endpoint.form[first]).encode() + bad_bytes[
            case
        ] + b"&" + raw_form(form), urlencoded
    if case == "wrong types":
        return raw_form({**form, **endpoint.wrong_types}), urlencoded
    if case == "missing":
        form.pop(endpoint.required or first)
        return raw_form(form), urlencoded
    raise AssertionError(case)


GENERIC = [
    "oversized",
    "multipart",
    "json",
    "repeated",
    "non-utf-8",
    "overlong utf-8",
    "nul",
    "rtl override",
    "raw control",
]
TABLE = [(e, case) for e in ENDPOINTS for case in GENERIC] + [
    (e, case)
    for e in ENDPOINTS
    for case in ("wrong types", "missing")
    if (case == "wrong types" and e.wrong_types) or (case == "missing" and e.required)
]
EXPECTED = {"oversized": {413}, "multipart": {415}, "json": {415}}


def snapshot(database_url: str) -> dict[str, str]:
    """A digest of every table's rows: equal before and after means nothing was stored."""
    with psycopg.connect(database_url) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        ]
        return {
            t: conn.execute(
                "SELECT md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), ''))"
                f' FROM "{t}" x'
            ).fetchone()[0]
            for t in tables
        }


@pytest.fixture
def site(demo, redis_url, app_settings, tmp_path):
    """Both apps, an admin signed in on the web client, and the ids the forms name."""
    settings = app_settings(demo, redis_url, MEDIA_ROOT=str(tmp_path / "media"))
    web, ingest = create_web_app(settings), create_ingest_app(settings)
    with psycopg.connect(demo) as conn:
        accounts.create_editor(conn, ADMIN, PASSWORD, role="admin")
        nominee_id = conn.execute("SELECT id FROM nominees WHERE slug = 'nova-reyes'").fetchone()[0]
    category, nominee = open_ballot(demo)
    clients = {"web": web.test_client(), "ingest": ingest.test_client()}
    signed_in = clients["web"].post("/admin/login", data={"email": ADMIN, "password": PASSWORD})
    assert signed_in.status_code == 303
    ids = {"category": str(category), "nominee": str(nominee), "nominee_id": str(nominee_id)}
    caps = {
        "small": int(web.config["SMALL_FORM_MAX_CONTENT_LENGTH"]),
        "all": int(web.config["MAX_CONTENT_LENGTH"]),
    }
    yield clients, ids, caps
    db.close(web)
    db.close(ingest)


@pytest.mark.parametrize(("endpoint", "case"), TABLE, ids=lambda v: getattr(v, "name", v))
def test_hostile_form_input_gets_a_clear_4xx_and_stores_nothing(
    site, demo, redis_url, endpoint, case
):
    clients, ids, caps = site
    endpoint = Endpoint(
        endpoint.name,
        endpoint.app,
        endpoint.path.format(**ids),
        {k: v.format(**ids) for k, v in endpoint.form.items()},
        endpoint.wrong_types,
        endpoint.required,
    )
    body, content_type = hostile(endpoint, case, caps)
    before = snapshot(demo)

    response = clients[endpoint.app].post(
        endpoint.path, data=body, content_type=content_type, headers=HX
    )

    status = response.status_code
    assert status in EXPECTED.get(case, {400, 401, 409, 422}), (status, response.get_data()[:300])
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and len(text) < 20_000 and "<" in text  # a friendly page
    assert snapshot(demo) == before
    with redis.Redis.from_url(redis_url) as r:
        assert r.xlen(STREAM) == 0


def multipart(fields: dict[str, str], files: dict[str, tuple[bytes, str]]) -> bytes:
    """A multipart/form-data body with BOUNDARY, built in memory."""
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    for name, (data, filename) in files.items():
        head = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: image/jpeg\r\n\r\n'
        )
        parts.append(head.encode() + data + b"\r\n")
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def a_jpeg() -> bytes:
    """A real, small JPEG: only the description is hostile."""
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 90)).save(out, "JPEG")
    return out.getvalue()


BOUNDARY = "hostile-upload"
ALT = {"alt": "Nova on stage"}


@pytest.mark.parametrize(
    ("case", "fields", "files", "expected"),
    [
        ("oversized", ALT, {"photo": (b"\xff" * (11 * 1024 * 1024), "big.jpg")}, {413}),
        ("not an image", ALT, {"photo": (b"<?php system($_GET[1]);", "a.jpg")}, {400}),
        ("missing file", ALT, {}, {400}),
        ("empty file", ALT, {"photo": (b"", "")}, {400}),
        ("nul in the description", {"alt": "Nova\x00"}, {"photo": (a_jpeg(), "a.jpg")}, {400}),
        ("rtl override in it", {"alt": "Nova\u202egpj.exe"}, {"photo": (a_jpeg(), "a.jpg")}, {400}),
    ],
)
def test_hostile_photo_uploads_get_a_clear_4xx_and_store_nothing(
    site, demo, case, fields, files, expected
):
    clients, ids, _caps = site
    before = snapshot(demo)
    response = clients["web"].post(
        f"/admin/nominees/{ids['nominee_id']}/photo",
        data=multipart(fields, files),
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
    )
    assert response.status_code in expected, case
    assert snapshot(demo) == before


def test_a_form_where_a_photo_is_expected_gets_400(site, demo):
    clients, ids, _caps = site
    before = snapshot(demo)
    response = clients["web"].post(
        f"/admin/nominees/{ids['nominee_id']}/photo", data="alt=x", content_type="text/plain"
    )
    assert response.status_code == 400
    assert snapshot(demo) == before


# ---- through the edge ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def edge_stack(module_stack, module_demo, redis_server):
    """One stack for the edge tests: each checks that nothing was stored, so none changes it."""
    return module_stack(module_demo, redis_server.url, "web", "ingest", "edge")


def raw_exchange(port: int, request: bytes, *, timeout: float) -> bytes:
    """Send bytes, read until the server closes or answers; never longer than timeout."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
                if b"\r\n\r\n" in b"".join(chunks):
                    break
        except (TimeoutError, ConnectionResetError):
            pass
        return b"".join(chunks)


def status_of(reply: bytes) -> int | None:
    line = reply.split(b"\r\n", 1)[0].split()
    return int(line[1]) if len(line) > 1 and line[1].isdigit() else None


@pytest.mark.parametrize("path", ["/votes", "/admin/login", "/awards/breakthrough-artist"])
def test_huge_headers_are_refused_at_the_edge(edge_stack, module_demo, redis_url, path):
    demo = module_demo
    before = snapshot(demo)
    port = edge_stack.ports["edge"]
    request = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"X-Junk: {'a' * 70_000}\r\nContent-Length: 0\r\n\r\n"
    ).encode()
    reply = raw_exchange(port, request, timeout=15)
    status = status_of(reply)
    assert status is None or 400 <= status < 500, reply[:200]  # refused or cut off, never 5xx
    many = "".join(f"X-H{i}: v\r\n" for i in range(200))
    reply = raw_exchange(
        port, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{many}\r\n".encode(), timeout=15
    )
    assert status_of(reply) is None or 400 <= status_of(reply) < 500, reply[:200]
    assert snapshot(demo) == before
    with redis.Redis.from_url(redis_url) as r:
        assert r.xlen(STREAM) == 0


@pytest.mark.parametrize("path", ["/votes", "/admin/login"])
def test_a_slow_body_through_the_edge_is_cut_off_and_stores_nothing(
    edge_stack, module_demo, redis_url, path
):
    demo = module_demo
    before = snapshot(demo)
    port = edge_stack.ports["edge"]
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://127.0.0.1\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 4000\r\n\r\n"
            "category=1&nominee=".encode()
        )
        for _ in range(4):  # a byte a second for a while (the edge reads it, nothing passes on)
            time.sleep(1)
            sock.sendall(b"1")
        stalled = time.monotonic()
        try:  # then nothing: the edge must give up on its own
            reply = sock.recv(65536)
        except (TimeoutError, ConnectionResetError):
            reply = b"timed out"
        waited = time.monotonic() - stalled
    assert reply != b"timed out", "the edge kept a stalled body open for 30 s"
    status = status_of(reply)
    assert status is None or 400 <= status < 500, reply[:300]  # closed, or a 4xx: never a 5xx
    assert waited < 20, waited  # timeout_idle is 5 s
    assert snapshot(demo) == before
    with redis.Redis.from_url(redis_url) as r:
        assert r.xlen(STREAM) == 0
