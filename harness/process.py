"""Local processes for the harness: free ports, starting with logs, stopping by PID, readiness.

Every process the harness starts runs in a session of its own with its output in a file (pipes
can deadlock), and is stopped through its own process group, never by name.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from fanfare.settings import ROOT

# Ports are handed out below Linux's ephemeral range (32768 and up), which outgoing connections
# take their source ports from: a port chosen there can be taken by any connect() before the
# server that was meant to get it binds it. Under pytest-xdist every worker gets a slice of its
# own, so two workers never hand out the same port either.
PORT_RANGE = range(10000, 32768)
_handed_out: set[int] = set()


def _port_slice() -> range:
    """This process's slice of PORT_RANGE: all of it, or one worker's share under xdist."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", ...
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if not worker.startswith("gw") or count <= 1:
        return PORT_RANGE
    size = len(PORT_RANGE) // count
    start = PORT_RANGE.start + int(worker[2:]) % count * size
    return range(start, start + size)


def _bindable(port: int) -> bool:
    """Whether a server could bind 127.0.0.1:port right now."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on and that this process never handed out.

    A random start in this process's slice, then the next free one: other test runs on the
    same machine (their own slices, the same numbers) rarely pick the same moment and port.
    """
    ports = _port_slice()
    start = random.randrange(len(ports))
    for offset in range(len(ports)):
        port = ports[(start + offset) % len(ports)]
        if port not in _handed_out and _bindable(port):
            _handed_out.add(port)
            return port
    raise RuntimeError(f"no free port left in {ports}")


def spawn(
    command: list[str], *, log: Path, env: Mapping[str, str] | None = None
) -> subprocess.Popen:
    """Start command from the repository root in its own session, appending its output to log."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env=None if env is None else dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen, *, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
    """Signal the process's group, then SIGKILL it if it outlives the timeout."""
    stop_all([process], sig=sig, timeout=timeout)


def stop_all(
    processes: list[subprocess.Popen], *, sig: int = signal.SIGTERM, timeout: float = 15.0
) -> None:
    """Signal every process's group at once, then SIGKILL those that outlive the timeout.

    At once, because each gunicorn takes a second or more to stop gracefully: one after the
    other, a stack's teardown would add those seconds up.
    """
    running = [process for process in processes if process.poll() is None]
    for process in running:
        os.killpg(process.pid, sig)
    deadline = time.monotonic() + timeout
    for process in running:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_http(url: str, *, timeout: float = 30.0, any_status: bool = False) -> None:
    """Poll url until it answers 200 (any status with any_status), or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200 or any_status:
                    return
        except urllib.error.HTTPError as exc:
            exc.close()  # a 503 while starting holds its socket open until closed
            if any_status:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            wanted = "answer" if any_status else "answer 200"
            raise TimeoutError(f"{url} did not {wanted} within {timeout:.0f} s")
        time.sleep(0.1)
