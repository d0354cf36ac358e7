"""`make run`'s local SMTP sink: accepts every mail and prints the sign-in links it carries.

usage: python -m fanfare.fans.sink [port]   (default: the port of FANFARE_SMTP_URL)
"""

from __future__ import annotations

import re
import sys
import time
from urllib.parse import urlsplit

from aiosmtpd.controller import Controller

from fanfare import settings

LINK = re.compile(r"https?://\S+/account/link/\S+")


class PrintLinks:
    """aiosmtpd handler: print who each mail is for and the links in it."""

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's name)
        text = envelope.content.decode("utf-8", "replace").replace("=\r\n", "")
        for link in LINK.findall(text) or ["(no link)"]:
            print(f"sign-in mail for {', '.join(envelope.rcpt_tos)}: {link}", flush=True)
        return "250 Message accepted"


def main(argv: list[str]) -> None:
    """Run until killed."""
    port = int(argv[0]) if argv else urlsplit(str(settings.load()["SMTP_URL"])).port or 8025
    controller = Controller(PrintLinks(), hostname="127.0.0.1", port=port)
    controller.start()
    print(f"SMTP sink on 127.0.0.1:{port}; sign-in links are printed here", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
