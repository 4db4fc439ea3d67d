"""A threaded HTTP server on a free loopback port whose requests a subclass answers."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


_OUTAGE = Reply(500, {"error": {"type": "api_error", "message": "outage"}})


class FakeServer:
    """Subclasses implement :meth:`handle`; ``url`` is where the SDK is pointed.

    ``fail_next(n)`` makes the next ``n`` requests fail with a 500 (an outage);
    ``lose_next_answers(n)`` carries out the next ``n`` requests and then answers 500, as
    when the provider did the work but its answer never arrived (the case idempotency keys
    are for); ``requests`` records every request (method, path, headers, body)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self._failures = 0
        self._lost_answers = 0
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the SDKs' clients expect
            # Headers and body leave in two writes: without this, Nagle's algorithm holds
            # the body until the client's delayed ACK (~40 ms a request).
            disable_nagle_algorithm = True

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                with fake._lock:
                    fake.requests.append((self.command, self.path, headers, body))
                    failing = fake._failures > 0
                    if failing:
                        fake._failures -= 1
                    reply = (
                        _OUTAGE if failing else fake.handle(self.command, self.path, headers, body)
                    )
                    if not failing and fake._lost_answers > 0:
                        fake._lost_answers -= 1
                        reply = _OUTAGE
                payload = json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Reply:
        raise NotImplementedError

    def fail_next(self, count: int) -> None:
        with self._lock:
            self._failures = count

    def lose_next_answers(self, count: int) -> None:
        with self._lock:
            self._lost_answers = count

    def start(self) -> FakeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
