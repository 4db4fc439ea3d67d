"""How ``boxoffice serve`` runs the app under uvicorn: httptools parses HTTP/1.1 (uvicorn's
fast parser; h11, its fallback, costs more CPU a request), and every connection gets
``TCP_NODELAY``.

Why the latter: with ``--workers N`` uvicorn binds the listening socket itself with
protocol 0, and asyncio only disables Nagle's algorithm on sockets whose protocol says
TCP. A response leaves as two writes (head, then body); with Nagle on, the body waited for
the client's delayed ACK of the head, ~40 ms a response: 1,100 requests/s where one process
did 5,000.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class NoDelayHttpToolsProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
