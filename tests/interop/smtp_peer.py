"""A minimal SMTP server (RFC 5321: EHLO/HELO, MAIL, RCPT, DATA with dot
unstuffing, RSET, NOOP, QUIT) for tests/interop/test_apps_kernel.py: the
standard library has none any more (smtpd left in Python 3.12). Runs in
the kernel's namespace with the system python3.

    python3 smtp_peer.py HOST PORT OUTDIR

Prints ``ready`` once listening; every message accepted is written to
OUTDIR/N.eml (its envelope in OUTDIR/N.env as ``from\\nto...``).
"""

from __future__ import annotations

import socket
import socketserver
import sys
from pathlib import Path

OUT = Path(sys.argv[3])


class Handler(socketserver.StreamRequestHandler):
    n = 0

    def reply(self, text: str) -> None:
        self.wfile.write(text.encode() + b"\r\n")

    def handle(self) -> None:
        self.reply("220 peer ESMTP ready")
        mail: str | None = None
        rcpt: list[str] = []
        while True:
            line = self.rfile.readline(1000)
            if not line:
                return
            cmd = line.decode("ascii", "replace").rstrip("\r\n")
            verb = cmd[:4].upper()
            if verb == "EHLO":
                self.reply("250-peer greets " + cmd[5:])
                self.reply("250-8BITMIME")
                self.reply("250 SIZE 10000000")
            elif verb == "HELO":
                self.reply("250 peer")
            elif verb == "MAIL":
                mail, rcpt = cmd.split(":", 1)[1].strip(), []
                self.reply("250 OK")
            elif verb == "RCPT":
                rcpt.append(cmd.split(":", 1)[1].strip())
                self.reply("250 OK")
            elif verb == "DATA":
                if mail is None or not rcpt:
                    self.reply("503 need MAIL and RCPT")
                    continue
                self.reply("354 end with <CRLF>.<CRLF>")
                body = bytearray()
                while True:
                    ln = self.rfile.readline(100_000)
                    if not ln or ln == b".\r\n":
                        break
                    body += ln[1:] if ln.startswith(b".") else ln
                Handler.n += 1
                (OUT / f"{Handler.n}.eml").write_bytes(bytes(body))
                (OUT / f"{Handler.n}.env").write_text("\n".join([mail, *rcpt]))
                mail, rcpt = None, []
                self.reply("250 OK queued")
            elif verb == "RSET":
                mail, rcpt = None, []
                self.reply("250 OK")
            elif verb == "NOOP":
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")


class Server(socketserver.ThreadingTCPServer):
    address_family = socket.AF_INET6
    allow_reuse_address = True
    daemon_threads = True

    def server_bind(self) -> None:
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


if __name__ == "__main__":
    with Server((sys.argv[1], int(sys.argv[2])), Handler) as srv:
        print("ready", flush=True)
        srv.serve_forever()
