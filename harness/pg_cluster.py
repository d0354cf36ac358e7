"""A private PostgreSQL cluster for fault drills: its own data dir and port, stopped as a crash is.

`make chaos` stops PostgreSQL with `pg_ctl -m immediate` and starts it again; doing that to the
machine's shared server would take every other engineer's tests down with it. So the drill gets
a throwaway cluster (initdb in a temp dir, trust auth on 127.0.0.1 only), run as `nobody` when we
are root, because PostgreSQL refuses to run as root. Only this cluster is ever stopped.
"""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
import time
from pathlib import Path

import psycopg

from harness.process import free_port


def _bin(name: str) -> str:
    """The newest installed PostgreSQL's program `name` (initdb, pg_ctl are not on PATH)."""
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: p.parts[-3])
    if not found:
        raise FileNotFoundError(f"no PostgreSQL {name} under /usr/lib/postgresql")
    return str(found[-1])


def _let_others_through(folder: Path) -> None:
    """Give `nobody` search (x, not read) permission on folder and its parents: a temp dir is
    mode 700, and the server must reach its data dir inside it."""
    for parent in [folder, *folder.parents]:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)


class PgCluster:
    """initdb once, then start()/stop(mode) any number of times on the same port and data."""

    def __init__(self, *, workdir: Path, max_connections: int = 200) -> None:
        self.workdir = workdir
        self.data = workdir / "data"
        self.port = free_port()
        self.max_connections = max_connections
        self.superuser = getpass.getuser()

    @property
    def server_url(self) -> str:
        """The maintenance database's conninfo (harness.database.Databases takes it)."""
        return f"postgresql://{self.superuser}@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        """Run a PostgreSQL program as the cluster's owner (nobody, when we are root)."""
        as_owner = ["runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []
        subprocess.run([*as_owner, *command], check=True, stdout=subprocess.DEVNULL, cwd="/")

    def init(self) -> PgCluster:
        """A new cluster in workdir/data, owned by the user it will run as."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.workdir, "nobody")
            _let_others_through(self.workdir.parent)
        self._run(
            _bin("initdb"), "-D", str(self.data), "-U", self.superuser,
            "--auth=trust", "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        return self

    def start(self, *, timeout: float = 30.0) -> PgCluster:
        """Start it (again) and wait until it accepts connections."""
        options = f"-h 127.0.0.1 -p {self.port} -k {self.workdir}"
        options += f" -c max_connections={self.max_connections} -c fsync=on"
        self._run(
            _bin("pg_ctl"), "-D", str(self.data), "-l", str(self.workdir / "postgres.log"),
            "-o", options, "-w", "-t", str(int(timeout)), "start",
        )  # fmt: skip
        self.wait(timeout=timeout)
        return self

    def wait(self, *, timeout: float = 30.0) -> None:
        """Until a connection succeeds (recovery after an immediate stop takes a moment)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.server_url, connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self, *, mode: str = "fast") -> None:
        """pg_ctl stop; mode "immediate" is a crash: no checkpoint, recovery at the next start."""
        if (self.data / "postmaster.pid").exists():
            self._run(_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def __enter__(self) -> PgCluster:
        """A new cluster, started, for the with block."""
        return self.init().start()

    def __exit__(self, *exc: object) -> None:
        """Stop it; the caller's temp dir takes the data with it."""
        self.stop(mode="fast")
