"""A real SMTP server for tests: aiosmtpd in a child process, writing what it receives to a
Maildir that the test reads back and parses.

A child process rather than aiosmtpd's threaded ``Controller``: the test process keeps no
extra thread and event loop (one such thread, in a worker that also ran SQLAlchemy's
greenlets, once hung a whole parallel run at thread teardown). It also lets a test take the
server down and bring it back on the same port, as an outage would::

    with SmtpReceiver() as smtp:
        ...  # configure [providers.smtp] port = smtp.port, tls = "none"
        smtp.refuse("gone@example.org", "550 5.1.1 No such mailbox")
        smtp.refuse("*", "451 4.3.0 Try again later")   # every recipient, for now
        mail = smtp.received()   # email.message.EmailMessage objects, oldest first

Needs ``aiosmtpd`` (a test dependency of boxoffice, not a runtime one).
"""

from __future__ import annotations

import json
import mailbox
import os
import subprocess
import sys
import tempfile
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

_READY_TIMEOUT = 20.0


class SmtpReceiver:
    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="boxoffice-smtp-")
        self.directory = Path(self._folder.name)
        self.maildir = self.directory / "mail"
        self.refusals_file = self.directory / "refusals.json"
        self.refusals_file.write_text("{}")
        #: Every ``RCPT TO`` the server was asked, accepted or refused: one address a line.
        self.asked_file = self.directory / "asked.txt"
        self.asked_file.touch()
        self.port = 0
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> SmtpReceiver:
        """Start (or restart, on the same port) the server; returns when it listens."""
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "boxoffice.testing.smtp",
                str(self.port),
                str(self.maildir),
                str(self.refusals_file),
                str(self.asked_file),
            ],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline().strip()
        if not line.startswith("listening "):
            self.stop()
            raise RuntimeError(f"the SMTP receiver did not start: {line!r}")
        self.port = int(line.split()[1])
        return self

    def stop(self) -> None:
        """Take the server down (the port refuses connections until :meth:`start`)."""
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            if self._process.stdout is not None:
                self._process.stdout.close()
            self._process = None

    def refuse(self, address: str, reply: str) -> None:
        """Answer ``RCPT TO:<address>`` (``"*"``: any) with ``reply``; ``""`` accepts again."""
        refusals = json.loads(self.refusals_file.read_text())
        if reply:
            refusals[address] = reply
        else:
            refusals.pop(address, None)
        self.refusals_file.write_text(json.dumps(refusals))

    def asked(self, to: str | None = None) -> list[str]:
        """Every recipient the server was asked to take (``RCPT TO``), refused ones too."""
        asked = self.asked_file.read_text().split()
        return [a for a in asked if to is None or a == to]

    def received(self, to: str | None = None) -> list[EmailMessage]:
        """What arrived (for ``to`` only, if given), oldest first, parsed."""
        files = [f for sub in ("new", "cur") for f in (self.maildir / sub).glob("*")]
        files.sort(key=lambda f: (f.stat().st_mtime_ns, f.name))
        parsed = [message_from_bytes(f.read_bytes(), policy=default) for f in files]
        return [m for m in parsed if isinstance(m, EmailMessage) and (to is None or m["To"] == to)]

    def __enter__(self) -> SmtpReceiver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
        self._folder.cleanup()


def _serve(  # pragma: no cover - the child process
    port: int, maildir: str, refusals_file: str, asked_file: str
) -> None:
    import asyncio

    from aiosmtpd.smtp import SMTP, Envelope, Session

    class Handler:
        async def handle_RCPT(
            self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
        ) -> str:
            with open(asked_file, "a") as asked:  # noqa: ASYNC230 - a line, in a test server
                asked.write(address + "\n")
            refusals = json.loads(Path(refusals_file).read_text())  # noqa: ASYNC240 - tiny
            reply = refusals.get(address) or refusals.get("*")
            if reply:
                return str(reply)
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
            content = envelope.original_content or b""
            mailbox.Maildir(maildir, create=True).add(content)
            return "250 Message accepted for delivery"

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: SMTP(Handler(), hostname="localhost"), host="127.0.0.1", port=port
        )
        bound = server.sockets[0].getsockname()[1]
        print(f"listening {bound}", flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


if __name__ == "__main__":  # pragma: no cover - the child process
    _serve(int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4])
