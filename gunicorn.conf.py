"""gunicorn settings for web and ingest. Never import the app here: gevent must patch first."""

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


def worker_exit(server, worker):
    """Close the PostgreSQL pool that this worker opened."""
    from fanfare.infra import db

    app = getattr(worker, "wsgi", None)
    if app is not None and hasattr(app, "extensions"):
        db.close(app)
