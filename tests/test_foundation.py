"""Migrations, health, static files and production settings."""

from __future__ import annotations

import re

import psycopg
import pytest

from fanfare.app import create_web_app
from fanfare.infra import db
from fanfare.settings import ConfigError


def test_migrate_is_idempotent(database_url):
    assert db.migrate(database_url) == []  # the template already holds every migration
    with psycopg.connect(database_url) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]
    assert versions == [number for number, _, _ in db.migrations()]


def test_cli_migrate_and_seed_demo(app, database_url):
    runner = app.test_cli_runner()
    assert "up to date" in runner.invoke(args=["migrate"]).output
    assert "seeded" in runner.invoke(args=["seed-demo"]).output
    assert "nothing seeded" in runner.invoke(args=["seed-demo"]).output
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT c.slug, count(n.id) FROM categories c JOIN nominees n ON n.category_id = c.id"
            " GROUP BY 1"
        ).fetchall()
    assert len(rows) >= 4 and all(count >= 6 for _, count in rows)


def test_healthz_reports_database_and_redis(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "redis": "ok"}
    assert response.headers["Cache-Control"] == "private, no-store"


def test_healthz_is_503_when_redis_is_unreachable(database_url):
    app = create_web_app(
        {
            "TESTING": True,
            "SECRET_KEY": "x",
            "DATABASE_URL": database_url,
            "REDIS_URL": "redis://127.0.0.1:1/0",
        }
    )
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["database"] == "ok" and response.json["redis"].startswith("error")
    db.close(app)


def test_static_files_are_fingerprinted_and_immutable(client):
    html = client.get("/").get_data(as_text=True)
    css = re.search(r'href="(/static/css/site\.[0-9a-f]{12}\.css)"', html).group(1)
    with client.get(css) as response:
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert b"font" in response.get_data()
    assert client.get("/static/css/site.css").status_code == 404


def test_production_refuses_to_start_without_a_secret(monkeypatch):
    monkeypatch.delenv("FANFARE_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError):
        create_web_app({"ENV": "production"})


def test_production_sends_hsts(database_url, redis_url):
    app = create_web_app(
        {
            "ENV": "production",
            "SECRET_KEY": "x",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
        }
    )
    assert "max-age=" in app.test_client().get("/healthz").headers["Strict-Transport-Security"]
    db.close(app)
