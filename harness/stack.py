"""Start the Procfile's processes on free ports, for tests, the e2e suite and benchmarks.

`make run` runs the same Procfile under honcho; this runs it without a terminal, each process
logging to its own file (pipes can deadlock) and stoppable on its own, by its PID.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from fanfare.settings import ROOT

PROCFILE = ROOT / "Procfile"
HEALTH_PATHS = {"edge": "/healthz", "web": "/healthz", "ingest": "/healthz"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def procfile(path: Path = PROCFILE) -> dict[str, str]:
    """The Procfile's commands by process name."""
    commands = {}
    for line in path.read_text().splitlines():
        name, sep, command = line.partition(":")
        if sep and name.strip() and not name.startswith("#"):
            commands[name.strip()] = command.strip()
    return commands


def wait_http(url: str, *, timeout: float = 30.0) -> None:
    """Poll url until it answers 200, or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except urllib.error.HTTPError as exc:
            exc.close()  # a 503 while starting holds its socket open until closed
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer 200 within {timeout:.0f} s")
        time.sleep(0.1)


class Stack:
    """The site's processes on free ports, with one log file each under run_dir."""

    def __init__(self, *, run_dir: Path, env: dict[str, str] | None = None) -> None:
        self.run_dir = run_dir
        self.ports = {"edge": free_port(), "web": free_port(), "ingest": free_port()}
        self.commands = procfile()
        self.processes: dict[str, subprocess.Popen] = {}
        self.env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "FANFARE_EDGE_PORT": str(self.ports["edge"]),
            "FANFARE_WEB_PORT": str(self.ports["web"]),
            "FANFARE_INGEST_PORT": str(self.ports["ingest"]),
            "FANFARE_RUN_DIR": str(run_dir),
            "FANFARE_EDGE_URLS": f"http://127.0.0.1:{self.ports['edge']}",
            "FANFARE_EDGE_MEMORY": "64m",
            **(env or {}),
        }

    def url(self, name: str = "edge") -> str:
        """Base URL of the edge, web or ingest."""
        return f"http://127.0.0.1:{self.ports[name]}"

    def log(self, name: str) -> Path:
        """Where a process writes its output."""
        return self.run_dir / f"{name}.log"

    def start(self, *names: str, timeout: float = 30.0) -> Stack:
        """Start processes by Procfile name and wait until those with /healthz answer."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for name in names:
            with self.log(name).open("ab") as log:
                self.processes[name] = subprocess.Popen(
                    ["bash", "-c", self.commands[name]],
                    cwd=ROOT,
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        for name in names:
            if name in HEALTH_PATHS:
                wait_http(self.url(name) + HEALTH_PATHS[name], timeout=timeout)
        return self

    def stop(self, name: str, *, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        """Signal one process group, then SIGKILL it if it outlives the timeout."""
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def kill(self, name: str) -> None:
        """kill -9, as a crash would."""
        self.stop(name, sig=signal.SIGKILL)

    def close(self) -> None:
        """Stop everything this stack started: the edge first, then the rest in reverse order.

        The edge holds keep-alive connections to web and ingest, which would keep gunicorn in
        its graceful shutdown for the whole graceful_timeout (10 s here instead of about 1 s).
        """
        names = list(reversed(self.processes))
        for name in sorted(names, key=lambda name: name != "edge"):
            self.stop(name)
