"""Start the Procfile's processes on free ports, for tests, the e2e suite and benchmarks.

`make run` runs the same Procfile under honcho; this runs it without a terminal, each process
logging to its own file (pipes can deadlock) and stoppable on its own, by its PID. The
environment the processes run with is built here, in stack_env(), and nowhere else.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from fanfare.settings import ROOT
from harness import process
from harness.process import free_port, wait_http

PROCFILE = ROOT / "Procfile"
HEALTH_PATHS = {
    "edge": "/healthz",
    "web": "/healthz",
    "ingest": "/healthz",
    "exporter": "/metrics",
}
SECRET_KEY = "harness-secret-key"


def procfile(path: Path = PROCFILE) -> dict[str, str]:
    """The Procfile's commands by process name."""
    commands = {}
    for line in path.read_text().splitlines():
        name, sep, command = line.partition(":")
        if sep and name.strip() and not name.startswith("#"):
            commands[name.strip()] = command.strip()
    return commands


def stack_env(
    *,
    ports: Mapping[str, int],
    run_dir: Path,
    database_url: str,
    redis_url: str,
    workers: int | None = 1,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of every process in a harness stack; extra overrides any of it."""
    env = {
        **os.environ,
        # The venv's gunicorn and python, whichever way this interpreter was started.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "FANFARE_SECRET_KEY": SECRET_KEY,
        "FANFARE_EDGE_PORT": str(ports["edge"]),
        "FANFARE_WEB_PORT": str(ports["web"]),
        "FANFARE_INGEST_PORT": str(ports["ingest"]),
        "FANFARE_RUN_DIR": str(run_dir),
        "FANFARE_EDGE_URLS": f"http://127.0.0.1:{ports['edge']}",
        "FANFARE_EDGE_MEMORY": "64m",
        # The plain processes' /metrics (0: none), so parallel stacks never share a port.
        "FANFARE_WRITER_METRICS_PORT": str(ports.get("writer", 0)),
        "FANFARE_EXPORTER_PORT": str(ports.get("exporter", 0)),
        # The Procfile's mail sink listens here, never on a developer's default port.
        "FANFARE_SMTP_URL": f"smtp://127.0.0.1:{ports.get('mail') or free_port()}",
    }
    if workers is not None:  # None keeps gunicorn.conf.py's production default
        env["FANFARE_WORKERS"] = str(workers)
    return {**env, **(extra or {})}


class Stack:
    """The site's processes on free ports, with one log file each under run_dir."""

    def __init__(
        self,
        *,
        run_dir: Path,
        database_url: str,
        redis_url: str,
        workers: int | None = 1,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.run_dir = run_dir
        names = ("edge", "web", "ingest", "writer", "exporter", "mail")
        self.ports = {name: free_port() for name in names}
        self.commands = procfile()
        self.processes: dict[str, subprocess.Popen] = {}
        self.env = stack_env(
            ports=self.ports,
            run_dir=run_dir,
            database_url=database_url,
            redis_url=redis_url,
            workers=workers,
            extra=env,
        )

    def __enter__(self) -> Stack:
        """The stack itself; leaving the block stops whatever it started."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop everything, as close() does."""
        self.close()

    def url(self, name: str = "edge") -> str:
        """Base URL of the edge, web, ingest or any other process given a port in self.ports."""
        return f"http://127.0.0.1:{self.ports[name]}"

    @property
    def varnish_dir(self) -> Path:
        """Varnish's -n directory (scripts/edge.sh puts it under the run dir), for varnishstat."""
        return self.run_dir / "edge" / "varnish"

    def log(self, name: str) -> Path:
        """Where a process writes its output."""
        return self.run_dir / f"{name}.log"

    def log_tails(self, names: list[str], lines: int = 15) -> str:
        """The last lines each process logged, to explain one that did not come up."""
        tails = []
        for name in names:
            path = self.log(name)
            text = path.read_text(errors="replace").splitlines()[-lines:] if path.exists() else []
            tails.append(f"--- {path}\n" + "\n".join(text))
        return "\n".join(tails)

    def spawn(
        self, name: str, command: list[str], *, env: Mapping[str, str] | None = None
    ) -> subprocess.Popen:
        """Start any command as a process of this stack, with its env plus env, logged as name."""
        self.processes[name] = process.spawn(
            command, log=self.log(name), env={**self.env, **(env or {})}
        )
        return self.processes[name]

    def start(self, *names: str, timeout: float = 30.0) -> Stack:
        """Start processes by Procfile name and wait until those with /healthz answer."""
        for name in names:
            self.spawn(name, ["bash", "-c", self.commands[name]])
        try:
            for name in names:
                if name in HEALTH_PATHS:
                    wait_http(self.url(name) + HEALTH_PATHS[name], timeout=timeout)
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}\n{self.log_tails(list(names))}") from exc
        return self

    def stop(self, name: str, *, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        """Signal one process group, then SIGKILL it if it outlives the timeout."""
        started = self.processes.pop(name, None)
        if started is not None:
            process.stop(started, sig=sig, timeout=timeout)

    def signal(self, name: str, sig: int) -> None:
        """Send sig to one process's whole group (SIGSTOP freezes gunicorn's master and
        workers together; SIGCONT thaws them), leaving it in the stack."""
        os.killpg(self.processes[name].pid, sig)

    def kill(self, name: str) -> None:
        """kill -9, as a crash would."""
        self.stop(name, sig=signal.SIGKILL)

    def close(self) -> None:
        """Stop everything this stack started: the edge first, then all the rest at once.

        The edge holds keep-alive connections to web and ingest, which would keep gunicorn in
        its graceful shutdown for the whole graceful_timeout (10 s here instead of about 1 s).
        """
        close_all([self])


def close_all(stacks: list[Stack]) -> None:
    """Close several stacks at once: every edge first, then every other process together.

    Together, because each gunicorn or writer takes a second or more to stop gracefully: one
    after the other, a teardown adds those seconds up.
    """
    for edges_first in (True, False):
        started = [
            stack.processes.pop(name)
            for stack in stacks
            for name in reversed(list(stack.processes))
            if name.startswith("edge") == edges_first
        ]
        process.stop_all(started)
