"""gunicorn settings for web and ingest. Never import the app here: gevent must patch first."""

import os

worker_class = "gevent"
workers = int(os.environ.get("FANFARE_WORKERS", "2"))
worker_connections = int(os.environ.get("FANFARE_WORKER_CONNECTIONS", "2000"))
# Every gunicorn on a machine otherwise shares one control socket.
control_socket_disable = True
keepalive = 30
graceful_timeout = 10
accesslog = None
errorlog = "-"
loglevel = os.environ.get("FANFARE_LOG_LEVEL", "info")


def worker_exit(server, worker):
    """Close the PostgreSQL pool that this worker opened."""
    from fanfare.infra import db

    app = getattr(worker, "wsgi", None)
    if app is not None and hasattr(app, "extensions"):
        db.close(app)
