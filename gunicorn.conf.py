"""gunicorn settings for web and ingest. Never import the app here: gevent must patch first."""

import os
import shutil

from prometheus_client import multiprocess  # no app, no psycopg: safe before gevent patches

from fanfare import settings  # settings only: no Flask, no psycopg

_settings = settings.load()
worker_class = "gevent"
workers = int(_settings["WORKERS"])
worker_connections = int(_settings["WORKER_CONNECTIONS"])
# Every gunicorn on a machine otherwise shares one control socket.
control_socket_disable = True
keepalive = 30
graceful_timeout = 10
accesslog = None
errorlog = "-"
loglevel = str(_settings["LOG_LEVEL"])


def on_starting(server):
    """Empty this service's metrics directory: counters from a previous run must not add up."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder, exist_ok=True)


def child_exit(server, worker):
    """Drop a dead worker's live gauges (pools); its counters stay in the service's totals."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)


def worker_exit(server, worker):
    """Close the PostgreSQL pool that this worker opened."""
    from fanfare.infra import db

    app = getattr(worker, "wsgi", None)
    if app is not None and hasattr(app, "extensions"):
        db.close(app)
