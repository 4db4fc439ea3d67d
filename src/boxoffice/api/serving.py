"""How ``boxoffice serve`` runs the app under uvicorn: httptools parses HTTP/1.1 (uvicorn's
fast parser; h11, its fallback, costs more CPU a request), every connection gets
``TCP_NODELAY``, and a response's head and body leave in one write.

Why the latter: with ``--workers N`` uvicorn binds the listening socket itself with
protocol 0, and asyncio only disables Nagle's algorithm on sockets whose protocol says
TCP. A response leaves as two writes (head, then body); with Nagle on, the body waited for
the client's delayed ACK of the head, ~40 ms a response: 1,100 requests/s where one process
did 5,000.

Why the one write: uvicorn writes the head when the app sends ``http.response.start`` and
the body when it sends the body, one ``send()`` each. With ``TCP_NODELAY`` those are two
segments on the wire, two system calls here (on the loopback, each also runs the
receiver's TCP processing) and often two wake-ups of the client. The app sends both in one
turn of the event loop, so the connection's writes of one turn are gathered and sent
together at the end of it (:class:`_WritesOfOneTurn`).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class NoDelayHttpToolsProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(_WritesOfOneTurn(transport))  # type: ignore[arg-type]


class _WritesOfOneTurn:
    """A connection's transport whose writes in one turn of the event loop leave as one
    (see the module doc); everything else is the transport's own. Closing sends what was
    written first."""

    __slots__ = ("_pending", "_transport")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._pending: list[bytes] | None = None

    def write(self, data: bytes) -> None:
        if self._pending is None:
            self._pending = [bytes(data)]
            asyncio.get_running_loop().call_soon(self._flush)
        else:
            self._pending.append(bytes(data))

    def _flush(self) -> None:
        pending, self._pending = self._pending, None
        if pending and not self._transport.is_closing():
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)
