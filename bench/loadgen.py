"""wrk as the load generator: start it, bound it in time, read the JSON line its script prints."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

BENCH = Path(__file__).resolve().parent
LUA = BENCH / "lua"
# wrk's own default: a request unanswered for this long counts as a timeout, not a latency.
TIMEOUT_S = 2


@dataclass
class Result:
    """What one wrk run saw."""

    requests: int
    duration_s: float
    statuses: dict[int, int]
    connect_errors: int
    read_errors: int
    write_errors: int
    timeouts: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    extra: dict = field(default_factory=dict)

    def count(self, *codes: int) -> int:
        """Answers with any of these statuses."""
        return sum(self.statuses.get(code, 0) for code in codes)

    def rate(self, *codes: int) -> float:
        """Answers per second with these statuses (all answers when none are given)."""
        n = self.count(*codes) if codes else sum(self.statuses.values())
        return n / self.duration_s if self.duration_s else 0.0

    @property
    def errors(self) -> int:
        """Socket errors of every kind, timeouts included."""
        return self.connect_errors + self.read_errors + self.write_errors + self.timeouts

    def as_dict(self) -> dict:
        """JSON-ready, statuses keyed by string."""
        out = {k: v for k, v in self.__dict__.items() if k not in ("statuses", "extra")}
        return {**out, "statuses": {str(k): v for k, v in sorted(self.statuses.items())}}


class Wrk:
    """One running wrk process; result() waits for it within its time bound."""

    def __init__(
        self,
        url: str,
        *,
        connections: int,
        seconds: float,
        script: str,
        args: tuple[str, ...] = (),
        threads: int = 2,
    ) -> None:
        if urlsplit(url).hostname != "127.0.0.1":
            raise ValueError(f"benchmarks only send traffic to 127.0.0.1, not {url}")
        self.seconds = seconds
        command = [
            "wrk",
            f"-t{min(threads, connections)}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            f"--timeout={TIMEOUT_S}s",
            "-s",
            script,
            url,
            "--",
            *args,
        ]
        # cwd=lua/ so that the scripts' dofile("report.lua") finds the shared part.
        self.process = subprocess.Popen(
            command, cwd=LUA, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.started = time.monotonic()

    def result(self) -> Result:
        """Wait for wrk (killing it if it overruns) and parse its report."""
        data = _report(self.process, self.seconds + 30)
        data["statuses"] = {int(k): v for k, v in data["statuses"].items()}
        return Result(**data)


def _report(process: subprocess.Popen, timeout: float) -> dict:
    """Wait for a load generator (killing it if it overruns); the JSON line it printed."""
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
    for line in out.splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line.removeprefix("BENCH_JSON "))
    raise RuntimeError(
        f"{process.args[0]} printed no report (exit {process.returncode}): {err[-500:]}"
    )


class Fans:
    """One running fans.py process (fans who retry after Retry-After); result() waits for it."""

    def __init__(
        self,
        url: str,
        *,
        connections: int,
        seconds: float,
        category: int,
        nominees: list[int],
        tries: int = 4,
        tail: float = 40.0,
    ) -> None:
        if urlsplit(url).hostname != "127.0.0.1":
            raise ValueError(f"benchmarks only send traffic to 127.0.0.1, not {url}")
        self.bound = seconds + tail + 45  # fans.ABANDON_S for the last answers, and a margin
        command = [
            sys.executable,
            str(BENCH / "fans.py"),
            url,
            f"--connections={connections}",
            f"--seconds={seconds}",
            f"--category={category}",
            f"--nominees={','.join(map(str, nominees))}",
            f"--tries={tries}",
            f"--tail={tail}",
        ]
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def result(self) -> dict:
        """fans.py's summary (fans accepted, timeouts, latency per status)."""
        return _report(self.process, self.bound)


def run(url: str, **kwargs) -> Result:
    """Run wrk to completion."""
    return Wrk(url, **kwargs).result()


def votes(url: str, category: int, nominees: list[int], **kwargs) -> Result:
    """POST /votes at url (an edge or ingest base URL) as new voters."""
    ids = ",".join(str(n) for n in nominees)
    return run(f"{url}/votes", script="vote.lua", args=(str(category), ids), **kwargs)


def gets(base: str, paths: list[str], *, pause_ms: int = 0, **kwargs) -> Result:
    """GET the paths in rotation."""
    return run(base + paths[0], script="get.lua", args=(",".join(paths), str(pause_ms)), **kwargs)
