"""Local processes for the harness: free ports, starting with logs, stopping by PID, readiness.

Every process the harness starts runs in a session of its own with its output in a file (pipes
can deadlock), and is stopped through its own process group, never by name.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from fanfare.settings import ROOT


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
    if process.poll() is not None:
        return
    os.killpg(process.pid, sig)
    try:
        process.wait(timeout=timeout)
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
