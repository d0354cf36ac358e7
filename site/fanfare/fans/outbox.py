"""The mail outbox: sign-in requests queue mail in Redis; the scheduler's job sends it.

A slow or unreachable mail server never holds a fan's request (or a web worker) for seconds: the
request only LPUSHes. The job sends over one SMTP session per tick, within a time budget so the
scheduler's other jobs stay on time. A message moves to a "sending" list while it is sent and
is removed only once the server took it; whatever a crash left there is queued again, so mail
is delivered at least once. Flask-free.
"""

from __future__ import annotations

import json
import logging
import time

import psycopg
import redis

from fanfare import settings
from fanfare.fans import mail

log = logging.getLogger("fanfare.mail")
OUTBOX = "fanfare:mail:outbox"
SENDING = "fanfare:mail:sending"
BUDGET_SECONDS = 0.2


def enqueue(r: redis.Redis, to: str, link: str, minutes: int, lang: str = "en") -> None:
    """Queue one sign-in mail (one round trip), to be written in the language `lang`."""
    r.lpush(OUTBOX, json.dumps({"to": to, "link": link, "minutes": minutes, "lang": lang}))


def send_pending(r: redis.Redis, smtp_url: str, sender: str, *, budget: float = 1.0) -> int:
    """Send queued mail, oldest first, for about `budget` seconds; return how many went."""
    while r.lmove(SENDING, OUTBOX, "RIGHT", "RIGHT") is not None:
        pass  # a sender died mid-message: send it again
    raw = r.lmove(OUTBOX, SENDING, "RIGHT", "LEFT")
    if raw is None:
        return 0
    sent, deadline = 0, time.monotonic() + budget
    try:
        with mail.connection(smtp_url) as client:
            while raw is not None:
                data = json.loads(raw)
                message = mail.sign_in_message(
                    sender, data["to"], data["link"], data["minutes"], data.get("lang", "en")
                )
                client.send_message(message)
                r.lrem(SENDING, 1, raw)
                sent += 1
                if time.monotonic() >= deadline:
                    break
                raw = r.lmove(OUTBOX, SENDING, "RIGHT", "LEFT")
    except mail.MailError as exc:
        log.warning("mail server unavailable (%s); %d queued mail wait", exc, r.llen(OUTBOX) + 1)
    finally:
        if r.llen(SENDING):
            r.lmove(SENDING, OUTBOX, "RIGHT", "RIGHT")
    return sent


class MailJob:
    """The scheduler's job: send what the outbox holds, once the scheduler lends its Redis."""

    def __init__(self) -> None:
        self.redis: redis.Redis | None = None

    def use_redis(self, client: redis.Redis) -> None:
        """Bind the scheduler's Redis client."""
        self.redis = client

    def __call__(self, conn: psycopg.Connection, since: object, now: object) -> set[str]:
        """Send for at most BUDGET_SECONDS; never raises for Redis or the mail server."""
        if self.redis is None:
            return set()
        try:
            if self.redis.llen(OUTBOX) or self.redis.llen(SENDING):
                values = settings.load()
                send_pending(
                    self.redis, str(values["SMTP_URL"]), str(values["MAIL_FROM"]),
                    budget=BUDGET_SECONDS,
                )  # fmt: skip
        except redis.RedisError as exc:
            log.warning("outbox unavailable: %r", exc)
        return set()


job = MailJob()
