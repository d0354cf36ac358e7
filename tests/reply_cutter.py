"""A TCP proxy in front of a real Redis that can lose the replies to one command.

While `cutting` names a command (b"EVALSHA"), a connection that sends it has the command
delivered to Redis (so it runs) and is then closed the moment Redis's reply arrives, before the
reply reaches the client: a reply lost to a crash or a network cut, after the fact. It relays
any TCP protocol: b"POST /VOTES" in front of ingest loses an HTTP answer the same way (the
watched bytes are matched upper-cased).
"""

from __future__ import annotations

import selectors
import socket
import threading


class ReplyCutter:
    """Listens on a free 127.0.0.1 port; use as a context manager."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.cutting: bytes | None = None
        self.cut = 0  # replies lost so far
        self.max_cuts: int | None = None  # stop cutting after this many (None: never stop)
        self.open = True

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def __enter__(self) -> ReplyCutter:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.open = False
        self.listener.close()

    def _accept(self) -> None:
        while self.open:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _watched(self, sent: bytes) -> bool:
        """Whether these bytes carry the watched command, and cuts are still to be made."""
        if not self.cutting or self.cutting not in sent.upper():
            return False
        return self.max_cuts is None or self.cut < self.max_cuts

    def _relay(self, client: socket.socket) -> None:
        """Copy bytes both ways; once the watched command went up, cut at its reply."""
        upstream = socket.create_connection(("127.0.0.1", self.target_port))
        armed = False
        with client, upstream, selectors.DefaultSelector() as sel:
            sel.register(client, selectors.EVENT_READ, upstream)
            sel.register(upstream, selectors.EVENT_READ, client)
            while self.open:
                for key, _ in sel.select(timeout=0.5):
                    data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                    if not data:
                        return
                    if key.fileobj is client:
                        armed = armed or self._watched(data)
                    elif armed:
                        self.cut += 1
                        return  # the command ran; its reply dies with the connection
                    key.data.sendall(data)
