"""The alert rules in ops/ are valid Prometheus rules and fire on the incidents they name."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from fanfare.settings import ROOT

OPS = ROOT / "ops"


@pytest.fixture(scope="module")
def promtool() -> str:
    """promtool, from Debian's `prometheus` package (scripts/system-deps.sh installs it)."""
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is missing: run `make deps` (apt-get install prometheus)")
    return path


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=OPS, capture_output=True, text=True, timeout=60)


def test_rules_and_the_example_config_check(promtool):
    rules = _run(promtool, "check", "rules", "alerts.yml")
    assert rules.returncode == 0, rules.stdout + rules.stderr
    config = _run(promtool, "check", "config", "prometheus.yml")
    assert config.returncode == 0, config.stdout + config.stderr


def test_every_alert_is_exercised_by_the_unit_tests(promtool):
    done = _run(promtool, "test", "rules", "alerts_test.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    alerts = {
        line.split(":", 1)[1].strip()
        for line in (OPS / "alerts.yml").read_text().splitlines()
        if line.strip().startswith("- alert:")
    }
    tested = (OPS / "alerts_test.yml").read_text()
    assert alerts and all(f"alertname: {name}" in tested for name in alerts), alerts
