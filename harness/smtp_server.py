"""A real SMTP server on a free port (aiosmtpd) that keeps every message, for tests and bench."""

from __future__ import annotations

import re
import threading
import time
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from harness.process import free_port

# /account/link/<token>, or in another language /account/ko/link/<token>.
LINK = re.compile(r"https?://\S+/account/(?:[a-z]{2}(?:-[a-z]{2})?/)?link/[A-Za-z0-9_.\-]+")


class _Keep:
    """aiosmtpd handler: store each message."""

    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's name)
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self.server.lock:
            self.server.messages.append(message)  # type: ignore[arg-type]
        return "250 Message accepted"


class SmtpServer:
    """Start with `with SmtpServer() as smtp:`; smtp.url is the FANFARE_SMTP_URL to use."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()
        self.controller = Controller(_Keep(self), hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        """The SMTP URL of this server."""
        return f"smtp://127.0.0.1:{self.port}"

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    def links_for(self, address: str) -> list[str]:
        """Every sign-in link mailed to an address, oldest first."""
        with self.lock:
            found = [m for m in self.messages if str(m["To"]).lower() == address.lower()]
        return [link for m in found for link in LINK.findall(m.get_content())]

    def wait_link(self, address: str, timeout: float = 10.0) -> str:
        """The newest link mailed to an address, waiting for it to arrive."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            links = self.links_for(address)
            if links:
                return links[-1]
            time.sleep(0.05)
        raise TimeoutError(f"no sign-in mail for {address} within {timeout} s")
