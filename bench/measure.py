"""Observations taken beside the load: Varnish counters, worker RSS, the vote stream's backlog."""

from __future__ import annotations

import json
import statistics
import subprocess
import threading
import time
from pathlib import Path

import redis

STREAM, GROUP = "votes", "vote-writers"  # fanfare.stream's names (a contract of the writers)


def median(values: list[float]) -> float:
    """The median, or 0 for nothing."""
    return float(statistics.median(values)) if values else 0.0


def varnish_counters(workdir: Path) -> dict[str, int]:
    """varnishstat's counters for the edge whose -n directory is workdir."""
    out = subprocess.run(
        ["varnishstat", "-n", str(workdir), "-1", "-j"],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    ).stdout
    data = json.loads(out)
    counters = data.get("counters", data)  # 7.x nests them; older versions do not
    return {k: v["value"] for k, v in counters.items() if isinstance(v, dict) and "value" in v}


def backend_requests(counters: dict[str, int], backend: str) -> int:
    """Requests the edge sent to one backend (VBE.<vcl>.<backend>.req, summed over VCLs)."""
    return sum(
        v for k, v in counters.items() if k.startswith("VBE.") and k.endswith(f".{backend}.req")
    )


def children(pid: int) -> list[int]:
    """Direct children of a process (gunicorn's workers, for its master)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def rss_mb(pid: int) -> float:
    """Resident set size of one process, MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class RssSampler:
    """Peak RSS of each worker of some gunicorn masters, sampled every interval in a thread."""

    def __init__(self, masters: dict[str, int], interval: float = 0.2) -> None:
        self.masters = masters
        self.interval = interval
        self.peaks: dict[str, dict[int, float]] = {name: {} for name in masters}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for name, master in self.masters.items():
                for pid in children(master):
                    peaks = self.peaks[name]
                    peaks[pid] = max(peaks.get(pid, 0.0), rss_mb(pid))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def established(port: int) -> int:
    """TCP connections established to a local port right now."""
    out = subprocess.run(
        ["ss", "-Htn", "state", "established", f"( sport = :{port} )"],
        capture_output=True,
        text=True,
        timeout=10,
    ).stdout
    return len(out.splitlines())


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def stream_state(client: redis.Redis) -> dict[str, int | bool]:
    """Votes added so far, how many the writers have not yet persisted, and whether all are done."""
    try:
        info = client.xinfo_stream(STREAM)
    except redis.ResponseError:  # no stream yet
        return {"added": 0, "backlog": 0, "pending": 0, "drained": True, "started": False}
    added = int(info.get("entries-added", info["length"]))
    last = _text(info["last-generated-id"])
    groups = [g for g in client.xinfo_groups(STREAM) if _text(g["name"]) == GROUP]
    if not groups:
        return {
            "added": added,
            "backlog": added,
            "pending": 0,
            "drained": added == 0,
            "started": False,
        }
    group = groups[0]
    read = group.get("entries-read")
    pending = int(group["pending"])
    delivered = _text(group["last-delivered-id"])
    unread = added - int(read) if read is not None else (0 if delivered == last else added)
    return {
        "added": added,
        "backlog": unread + pending,
        "pending": pending,
        "drained": delivered == last and pending == 0,
        "started": delivered != "0-0",
    }


class StreamSampler:
    """A timeline of the stream's state every interval seconds, in a thread."""

    def __init__(self, client: redis.Redis, interval: float = 0.5) -> None:
        self.client = client
        self.interval = interval
        self.samples: list[dict] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.t0 = time.monotonic()

    def _run(self) -> None:
        while not self._stop.is_set():
            state = stream_state(self.client)
            self.samples.append({"t": round(time.monotonic() - self.t0, 2), **state})
            self._stop.wait(self.interval)

    def __enter__(self) -> StreamSampler:
        self.t0 = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
