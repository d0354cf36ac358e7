"""Every setting and its default, in one place, read the same way by every process.

Web and ingest load them into app.config; the vote writer, the scheduler and gunicorn.conf.py
call `load()` directly. Order: DEFAULTS, then DATABASE_URL / REDIS_URL, then each FANFARE_<NAME>
variable (parsed as JSON when it is JSON, like Flask's from_prefixed_env), then explicit overrides
(tests). No Flask here: the workers import this module too.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path

# The repository root: templates/, static/, node_modules/ and .run/ live beside site/.
ROOT = Path(__file__).resolve().parents[2]
# Read without the FANFARE_ prefix, as every PostgreSQL and Redis tool names them.
UNPREFIXED = ("DATABASE_URL", "REDIS_URL")

DEFAULTS: dict[str, object] = {
    "ENV": "development",  # production requires SECRET_KEY and sends HSTS
    "SECRET_KEY": "",  # signs cookies; development keeps a generated one under .run/
    "DATABASE_URL": "postgresql://127.0.0.1:5432/fanfare",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    # Processes (make run, gunicorn.conf.py)
    "EDGE_PORT": 8000,
    "WEB_PORT": 8001,
    "INGEST_PORT": 8002,
    "WORKERS": 2,  # gunicorn worker processes per service
    "WORKER_CONNECTIONS": 2000,  # concurrent connections per gunicorn worker
    "LOG_LEVEL": "info",
    "RUN_DIR": str(ROOT / ".run"),  # make run's logs, the edge's work dir and the dev secret
    "EDGE_MEMORY": "256m",  # the edge's cache size
    # Pools, per process. redis-py fails at once past its pool size, so it is chosen on purpose.
    "DB_POOL_MIN": 1,
    "DB_POOL_MAX": 10,
    "REDIS_POOL_MAX": 200,
    # A fleet: Redis found through Sentinel ("host:port host:port"); empty means REDIS_URL's host.
    "REDIS_SENTINELS": "",
    "REDIS_SENTINEL_MASTER": "fanfare",
    # Replicas that must hold a vote before its 202 (WAIT per flush); 1 in production, else a
    # failover can lose votes the primary acknowledged. 0 where there is no replica (make run).
    "REDIS_WAIT_REPLICAS": 0,
    "REDIS_WAIT_TIMEOUT_MS": 500,
    "DB_BEHIND_PGBOUNCER": False,  # PgBouncer in transaction mode: psycopg prepares nothing
    # The edge
    "PROXY_HOPS": 1,  # trusted proxies in front of the app: the edge is one
    # Space-separated edges that receive purges; unset means this machine's edge at EDGE_PORT.
    "EDGE_URLS": None,
    "SURROGATE_KEY_HEADER": "xkey",  # xkey (Varnish), Surrogate-Key (Fastly), Cache-Tag (CF)
    "TRUSTED_ORIGINS": "",  # space-separated origins also allowed to post forms
    # Space-separated origins that may frame the broadcast overlay and the results widget.
    "FRAME_ANCESTORS": "",
    # The site's host names, space-separated; the edge maps any other Host to the first.
    "SITE_HOSTS": "127.0.0.1 localhost",
    # Request bodies: every request, then the two forms that never need more than a few fields.
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    "SMALL_FORM_MAX_CONTENT_LENGTH": 16 * 1024,  # POST /votes and /admin/login
    # Content
    "MEDIA_ROOT": str(ROOT / "media"),
    "NODE_MODULES": str(ROOT / "node_modules"),
    # Votes
    # Past its per-IP or per-subnet limit a vote is challenged (a proof of work, or without JS a
    # time lock), not refused: a stadium shares a few NAT addresses. Only past the ceiling, the
    # limit times VOTE_LIMIT_CEILING_FACTOR, is it refused (429), so one IP cannot flood Redis.
    # Every post counts, the challenged one too, so a fan past the limit costs two. With 50: an IP
    # may post 3,000 a minute, 1,500 challenged fans; 20,000 seats behind 4 NAT addresses in one
    # /24 need 5,000 fans each, 3.3 minutes (the /24's ceiling, 30,000 posts, does not bind). A
    # bot solving challenges pays about 0.1 s of a core per vote (cost 200, 5,000 attempts at
    # most), and the IP's ceiling still bounds it; detection flags its bursts for review.
    # The per-voter limit has no challenge: it is refused past it (429, Retry-After).
    "VOTE_LIMIT_PER_IP": "60/minute",
    "VOTE_LIMIT_PER_SUBNET": "600/minute",
    "VOTE_LIMIT_CEILING_FACTOR": 50,
    "VOTE_LIMIT_PER_VOTER": "20/minute",
    # Shedding inside each ingest worker. Off by default: under a flood of sheds on one worker
    # the admitted votes' wake-ups still queue behind the shed connections on the event loop
    # (see README, Votes); the edge's connection cap (EDGE_INGEST_CONNECTIONS) answers
    # overload at once either way.
    "VOTE_WORKER_SHEDDING": False,
    "VOTE_BUDGET_SECONDS": 1.0,  # a vote is answered within this, or refused at once (503)
    "VOTE_MIN_IN_FLIGHT": 100,  # votes a worker always admits at once, before it knows its rate
    "VOTE_CLOCK_SKEW_MS": 2000,  # ingest's clock may differ from Redis's by this; beyond, 503
    "EDGE_INGEST_CONNECTIONS": 100,  # the edge's connections to each ingest; past them, its own 503
    "EDGE_INGEST_RESEND_CONNECTIONS": 100,  # and more for resends after a Retry-After
    "BALLOT_REFRESH_SECONDS": 1.0,  # how stale one ingest process's ballot may be
    "BALLOT_CACHE_SECONDS": 2,  # how stale the ballot shared by ingest processes may be
    "CLAIM_IDLE_MS": 30000,  # a writer takes over another's unacked entries after this long
    "WRITER_BATCH": 500,  # stream entries per writer transaction
    "WRITER_MAX_DELIVERIES": 5,  # past this, an entry that still fails alone is dead-lettered
    "DEAD_LETTERS_MAXLEN": 100_000,  # votes:dead keeps at most this many entries
    # Operations: metrics ports of the plain processes, the ops page's thresholds
    "WRITER_METRICS_PORT": 8003,  # the vote writer's /metrics (0: none)
    "EXPORTER_PORT": 8004,  # the exporter's /metrics: queue and edge figures (0: none)
    # Space-separated /metrics URLs the exporter reads for the ops page; unset: this machine's.
    "OPS_SCRAPE_URLS": None,
    "OPS_VARNISH_DIR": None,  # varnishstat -n; unset: RUN_DIR/edge/varnish (scripts/edge.sh)
    # What make bench measured: the ops thresholds are 70% of it.
    "OPS_CAPACITY_FILE": str(ROOT / "bench" / "results" / "latest.json"),
    "OPS_THRESHOLDS": {},  # figure -> threshold, overriding 70% of the measured capacity
    # Fraud (site/fanfare/fraud/): new-voter budget, challenge, detection
    # Off: no new-voter budget and no challenge; past the per-IP or per-subnet limit a vote is
    # refused at once, as before issue 14 (bench/fraud.py's "off" arm; an operator's way out if
    # challenges ever misbehave). Detection still runs in the scheduler.
    "FRAUD_GATE": True,
    "NEW_VOTER_BUDGET_PER_IP": 5,  # new voters an IP may mint per voting window unchallenged
    "NEW_VOTER_BUDGET_PER_SUBNET": 50,  # the same for its /24 or /64
    "CHALLENGE_COST": 200,  # PBKDF2 iterations per proof-of-work attempt
    "CHALLENGE_MAX_NUMBER": 5000,  # the secret counter is below this: attempts, at most
    "CHALLENGE_EXPIRES_SECONDS": 300,  # a challenge or time lock is usable this long
    "TIMELOCK_SECONDS": 5,  # without JS, a challenged fan presses Vote again after this long
    "SUSPECT_SECONDS": 900,  # a flagged IP or subnet has no new-voter budget for this long
    "DETECT_EVERY_SECONDS": 2,  # how often the scheduler looks for bursts
    "DETECT_WINDOW_SECONDS": 60,  # the burst window: votes are counted per such time bucket
    "DETECT_PER_IP": 30,  # votes for one nominee from one IP per window that raise a flag
    "DETECT_PER_SUBNET": 300,  # the same per /24 or /64
    "DETECT_PER_UA": 1000,  # the same per User-Agent
    "DETECT_NEW_VOTERS_PER_SUBNET": 100,  # new voters from one subnet per window
    # Editors
    # Failed sign-ins only: per (account, client IP), per client IP, and per account from all
    # networks, past which only networks that have not failed on that account may still try.
    "ADMIN_LOGIN_LIMIT_ACCOUNT": "5 per minute; 30 per hour",
    "ADMIN_LOGIN_LIMIT_IP": "30 per minute; 300 per hour",
    # Fan accounts and the prediction game
    "SMTP_URL": "smtp://127.0.0.1:8025",  # smtp://[user:pass@]host:port, or smtps:// for TLS
    "MAIL_FROM": "fanfare <no-reply@fanfare.invalid>",
    "SITE_URL": "",  # base URL in sign-in mails; empty: the request's host (the edge checks it)
    "MAGIC_LINK_SECONDS": 900,  # a sign-in link works once, within this long
    "FAN_SESSION_SECONDS": 30 * 86400,
    "SIGN_IN_LIMIT_PER_EMAIL": "5 per 15 minutes",
    "SIGN_IN_LIMIT_PER_IP": "30 per minute",
    "PREDICTION_LOCK_SECONDS": 60,  # a linked round locks this long before its category closes
    "FEED_SECRET": "",  # HMAC-SHA256 key of the event feed; empty refuses every message
    "LEADERBOARD_REFRESH_SECONDS": 30,  # the scheduler's background refresh, when anything changed
    "TIER_BRONZE_POINTS": 10,
    "TIER_SILVER_POINTS": 50,
    "TIER_GOLD_POINTS": 150,
    "ADMIN_LOGIN_LIMIT_ACCOUNT_TOTAL": "100 per hour",
}


class ConfigError(RuntimeError):
    """A setting is missing or unsafe."""


def _parse(raw: str) -> object:
    """A FANFARE_* value: JSON when it parses (numbers, booleans), else the string itself."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def load(
    overrides: Mapping[str, object] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, object]:
    """The settings for this process: defaults, environment, overrides; with a secret key."""
    environ = os.environ if environ is None else environ
    values: dict[str, object] = dict(DEFAULTS)
    for name in UNPREFIXED:
        if environ.get(name):
            values[name] = environ[name]
    for name, raw in environ.items():
        if name.startswith("FANFARE_"):
            values[name.removeprefix("FANFARE_")] = _parse(raw)
    values.update(overrides or {})
    if values["EDGE_URLS"] is None:
        values["EDGE_URLS"] = f"http://127.0.0.1:{values['EDGE_PORT']}"
    if values["OPS_SCRAPE_URLS"] is None:
        local = "http://127.0.0.1:{}/metrics".format
        values["OPS_SCRAPE_URLS"] = (
            f"web={local(values['WEB_PORT'])} ingest={local(values['INGEST_PORT'])}"
            f" writer={local(values['WRITER_METRICS_PORT'])}"
        )
    if values["OPS_VARNISH_DIR"] is None:
        values["OPS_VARNISH_DIR"] = str(Path(str(values["RUN_DIR"])) / "edge" / "varnish")
    values["SECRET_KEY"] = _secret_key(values)
    return values


def words(value: object) -> list[str]:
    """A space-separated setting (EDGE_URLS, TRUSTED_ORIGINS) as a list; a list passes through."""
    return value.split() if isinstance(value, str) else [str(v) for v in value]  # type: ignore[attr-defined]


def _secret_key(values: dict[str, object]) -> str:
    """Production refuses to start without a secret; development keeps one under .run/."""
    if values.get("SECRET_KEY"):
        return str(values["SECRET_KEY"])
    if values["ENV"] == "production":
        raise ConfigError("FANFARE_SECRET_KEY must be set in production")
    path = ROOT / ".run" / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def main(names: list[str]) -> None:
    """Print `export FANFARE_NAME=value` lines for shell scripts (scripts/run.sh)."""
    values = load()
    for name in names:
        value = values[name]
        shown = value if isinstance(value, str) else json.dumps(value)
        print(f"export FANFARE_{name}={shlex.quote(shown)}")


if __name__ == "__main__":
    main(sys.argv[1:])
