"""PgBouncer for the harness: transaction pooling in front of the PostgreSQL server, on a free port.

It runs as a plain process with a generated config (never the packaged service). PgBouncer
refuses to run as root, so as root it reads its config and then drops to `nobody` (`-u`).
Every database name is passed through to the same name on the server, so the harness's fresh
databases are reachable through it with no per-database config.
"""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
import time
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from harness import process
from harness.process import free_port


class PgBouncer:
    """One pgbouncer in transaction mode; url() maps a direct conninfo onto it."""

    def __init__(self, *, workdir: Path, server_url: str, pool_size: int = 20) -> None:
        self.workdir = workdir
        self.server = conninfo_to_dict(server_url)
        self.port = free_port()
        self.pool_size = pool_size
        self.process: subprocess.Popen | None = None

    def url(self, database_url: str) -> str:
        """database_url, reached through this PgBouncer instead of directly."""
        return make_conninfo(database_url, host="127.0.0.1", port=str(self.port))

    def _config(self) -> Path:
        """Write pgbouncer.ini and its user list (trust: the user must only be listed)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        user = self.server.get("user") or getpass.getuser()
        (self.workdir / "users.txt").write_text(f'"{user}" ""\n')
        host, port = self.server.get("host", "127.0.0.1"), self.server.get("port", "5432")
        path = self.workdir / "pgbouncer.ini"
        path.write_text(
            "[databases]\n"
            f"* = host={host} port={port} user={user}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {self.workdir / 'users.txt'}\n"
            # Transaction mode: a server connection serves one transaction, then the next client.
            "pool_mode = transaction\n"
            f"default_pool_size = {self.pool_size}\nmax_client_conn = 2000\n"
            # psycopg sends these at connect; PgBouncer would refuse the connection otherwise.
            "ignore_startup_parameters = extra_float_digits,options,application_name\n"
            "server_reset_query =\nserver_check_delay = 1\n"
        )
        return path

    def command(self, config: Path) -> list[str]:
        """pgbouncer in the foreground; as root, it drops to nobody after reading its config."""
        binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        return [binary, *(["-u", "nobody"] if os.geteuid() == 0 else []), str(config)]

    def start(self, *, timeout: float = 10.0) -> PgBouncer:
        """Start it (again, on the same port) and wait until a query passes through it."""
        config = self._config()
        self.process = process.spawn(self.command(config), log=self.workdir / "pgbouncer.log")
        deadline = time.monotonic() + timeout
        probe = self.url(make_conninfo(dbname="postgres"))
        while True:
            try:
                with psycopg.connect(probe, prepare_threshold=None, connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return self
            except psycopg.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise TimeoutError(f"pgbouncer did not start; see {self.workdir}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        """Stop it by its PID (SIGTERM: PgBouncer drops its clients at once)."""
        if self.process is not None:
            process.stop(self.process, timeout=10)

    def restart(self) -> PgBouncer:
        """Stop it and start it again on the same port, as an operator's restart would."""
        self.stop()
        return self.start()

    def __enter__(self) -> PgBouncer:
        """Start it for the with block."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop it."""
        self.stop()
