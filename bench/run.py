"""`make bench`: stand the site up on free ports, run every scenario, write the JSON and the plots.

BENCH_QUICK=1 makes a 2-3 minute smoke run (results/quick.*); BENCH_ONLY=ingest,drain runs some
scenarios only (results/partial.*). Only a full run of everything writes results/latest.* and the
README tables.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

# Run as `python bench/run.py`: put the repository root on the path, for harness/.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import predictions  # noqa: E402
import report  # noqa: E402
import scenarios  # noqa: E402
import spike  # noqa: E402
from services import BENCH, Site  # noqa: E402

SCENARIOS = {
    "ingest": scenarios.ingest,
    "read_path": scenarios.read_path,
    "audience": scenarios.audience,
    "spike": spike.spike,
    "drain": scenarios.drain,
    # The prediction game at 100,000 fans × 20 rounds (issue 17).
    "predictions": predictions.scenario,
    # Last: 2,000 connections straight at the web app may trip the edge's health probe.
    "memory": scenarios.memory,
}
RESULTS = BENCH / "results"
# Every wrk run and wait is bounded on its own; this bounds the whole run, whatever hangs.
DEADLINE_S = 25 * 60


def _overrun(signum: int, frame: object) -> None:
    raise TimeoutError(f"bench did not finish within {DEADLINE_S // 60} minutes")


def _version(command: list[str]) -> str:
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except OSError:
        return "missing"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) else ""


def _git_commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return out.stdout.strip()


def main() -> int:
    quick = os.environ.get("BENCH_QUICK", "") not in ("", "0")
    only = [s for s in os.environ.get("BENCH_ONLY", "").split(",") if s]
    unknown = set(only) - set(SCENARIOS)
    if unknown:
        print(f"unknown scenarios {sorted(unknown)}; choose from {list(SCENARIOS)}")
        return 2
    profile = scenarios.QUICK if quick else scenarios.Profile()
    chosen = only or list(SCENARIOS)
    name = "partial" if only else "quick" if quick else "latest"
    loadavg = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"bench: {'quick' if quick else 'full'} run of {', '.join(chosen)}; load {loadavg}")
    started = time.monotonic()
    signal.signal(signal.SIGALRM, _overrun)
    signal.alarm(DEADLINE_S)
    run_dir = Path(tempfile.mkdtemp(prefix="fanfare-bench-"))
    measured: dict = {}
    try:
        with Site(run_dir) as site:
            for scenario in chosen:
                print(f"{scenario} ...", flush=True)
                measured[scenario] = SCENARIOS[scenario](site, profile)
    finally:
        signal.alarm(0)
        shutil.rmtree(run_dir, ignore_errors=True)
    data = {
        "headline": {},
        "meta": {
            "mode": "quick" if quick else "full",
            "scenarios": chosen,
            "finished_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "duration_s": round(time.monotonic() - started, 1),
            "cpus": os.cpu_count(),
            "loadavg_before": loadavg,
            "loadavg_after": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            "commit": _git_commit(),
            "python": platform.python_version(),
            "wrk": _version(["wrk", "--version"]),
            "varnish": _version(["varnishd", "-V"]),
            "redis": _version(["redis-server", "--version"]),
            "wrk_timeout_s": 2,
            "profile": asdict(profile),
        },
        "scenarios": measured,
    }
    data["headline"] = report.headline({**measured, "profile": asdict(profile)})
    RESULTS.mkdir(exist_ok=True)
    # The promised keys at the top level, for whoever reads the file first.
    (RESULTS / f"{name}.json").write_text(json.dumps({**data["headline"], **data}, indent=1) + "\n")
    report.plot(data, RESULTS / f"{name}.png")
    markdown = report.summary_markdown(data)
    if name == "latest":
        for readme in (BENCH / "README.md", BENCH.parent / "README.md"):
            report.update_readme(readme, markdown)
    print(markdown)
    print(f"wrote {RESULTS / name}.json and .png in {data['meta']['duration_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
