"""The signed-in fan of a request under /account, and the cookie that carries the session."""

from __future__ import annotations

from flask import current_app, g, request
from flask.wrappers import Response

from fanfare.fans import sessions
from fanfare.infra import redis_client


def token() -> str | None:
    """The session token the request carries (only /account requests carry it)."""
    return request.cookies.get(sessions.COOKIE)


def load_fan_id() -> int | None:
    """The signed-in fan's id from Redis, into g.fan_id; None when signed out."""
    g.fan_id = sessions.fan_id(redis_client.client(), token())
    return g.fan_id


def set_cookie(response: Response, value: str) -> None:
    """HttpOnly, SameSite=Lax (the link arrives from a mail client), only sent to /account."""
    response.set_cookie(
        sessions.COOKIE,
        value,
        max_age=int(current_app.config["FAN_SESSION_SECONDS"]),
        path=sessions.PATH,
        httponly=True,
        samesite="Lax",
        secure=current_app.config["ENV"] != "development",
    )


def clear_cookie(response: Response) -> None:
    """Forget the session in the browser."""
    response.delete_cookie(
        sessions.COOKIE,
        path=sessions.PATH,
        httponly=True,
        samesite="Lax",
        secure=current_app.config["ENV"] != "development",
    )
