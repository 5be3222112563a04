"""A local SMTP server for tests (RFC 5321: greeting, EHLO/HELO, MAIL, RCPT, DATA, QUIT) on
127.0.0.1 and a random port. It can answer the first ``refuse`` transactions with a 451 (a
temporary failure, as a busy server does) and keeps each message it accepted."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Mailbox:
    refuse: int = 0
    refused: int = 0
    messages: list[bytes] = field(default_factory=list)


class _Handler(socketserver.StreamRequestHandler):
    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        box: Mailbox = self.server.mailbox  # type: ignore[attr-defined]
        self.reply("220 test.local ESMTP")
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            verb = raw.decode(errors="replace").strip().split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 test.local")
            elif verb == "MAIL":
                self.reply("250 OK")
            elif verb == "RCPT":
                if box.refused < box.refuse:
                    box.refused += 1
                    self.reply("451 4.3.0 Temporarily unable to accept mail, try again later")
                else:
                    self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                lines = []
                while (line := self.rfile.readline()) not in (b".\r\n", b""):
                    lines.append(line)
                box.messages.append(b"".join(lines))
                self.reply("250 OK queued")
            elif verb == "RSET":
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("502 Command not implemented")


@contextmanager
def smtp_server(*, refuse: int = 0) -> Iterator[tuple[int, Mailbox]]:
    """Serve SMTP on 127.0.0.1; yields (port, mailbox)."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.mailbox = Mailbox(refuse=refuse)  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], server.mailbox  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
