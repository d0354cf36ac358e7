"""The layout's promises: one settings table, a Flask-free core, keys spelled in one place."""

from __future__ import annotations

import re
import subprocess
import sys

from fanfare import settings
from fanfare.settings import ROOT


def _readme_settings() -> list[str]:
    """The variable names in the README's Settings table, in order."""
    section = (ROOT / "README.md").read_text().split("## Settings", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([A-Z_]+)` \|", section, flags=re.M)


def test_readme_lists_exactly_the_settings():
    expected = [n if n in settings.UNPREFIXED else f"FANFARE_{n}" for n in settings.DEFAULTS]
    listed = _readme_settings()
    assert sorted(listed) == sorted(expected)
    assert len(listed) == len(set(listed))


def test_environment_overrides_defaults_with_json_values():
    values = settings.load(
        environ={"FANFARE_WORKERS": "3", "FANFARE_ENV": "test", "REDIS_URL": "redis://r/1"},
        overrides={"SECRET_KEY": "k"},
    )
    assert values["WORKERS"] == 3 and values["ENV"] == "test"
    assert values["REDIS_URL"] == "redis://r/1"
    assert values["EDGE_URLS"] == f"http://127.0.0.1:{settings.DEFAULTS['EDGE_PORT']}"


def test_workers_run_without_flask():
    code = (
        "import sys, workers.vote_writer, workers.scheduler;"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in"
        " ('flask', 'werkzeug', 'flask_limiter', 'flask_caching'));"
        "print(loaded); sys.exit(1 if loaded else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_surrogate_keys_are_spelled_in_one_module():
    literal = re.compile(
        r"""["'](results|category|nominee|event):|["'](home|history|missing)["']"""
    )
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("site", "workers")
        for path in (ROOT / folder).rglob("*.py")
        if path.name != "keys.py" and literal.search(path.read_text())
    ]
    assert offenders == []
