"""How ``boxoffice serve`` writes responses (``api/serving.py``): a response's head and body
leave in one write, and the connection behaves as before — keep-alive, a request uvicorn
itself refuses, a closed connection."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

from boxoffice.api.serving import _WritesOfOneTurn
from boxoffice.testing import ServerProcesses
from tests.servers import demo_environment


class RecordingTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> Any:
        return ("198.51.100.7", 4000) if name == "peername" else None


async def test_the_writes_of_one_turn_leave_as_one_and_closing_sends_them_first() -> None:
    wire = RecordingTransport()
    transport = _WritesOfOneTurn(wire)  # type: ignore[arg-type]
    transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    transport.write(b"ok")
    assert wire.writes == [], "nothing leaves before the turn ends"
    await asyncio.sleep(0)
    assert wire.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"]

    transport.write(b"next")  # a later turn: a write of its own
    await asyncio.sleep(0)
    assert wire.writes[1:] == [b"next"]

    transport.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    transport.close()
    assert wire.writes[2:] == [b"HTTP/1.1 400 Bad Request\r\n\r\n"]
    assert wire.closed
    await asyncio.sleep(0)
    assert len(wire.writes) == 3, "sent once, not again at the end of the turn"
    assert transport.get_extra_info("peername") == ("198.51.100.7", 4000)


def test_a_real_server_keeps_the_connection_alive_and_answers_malformed_http(
    db_url: str, tmp_path: Path
) -> None:
    env = demo_environment(db_url, tmp_path / "data")
    with ServerProcesses(1, env) as (url,):
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as connection:
            stream = connection.makefile("rb")
            for _ in range(3):  # one connection, one request after another
                connection.sendall(b"GET /health/live HTTP/1.1\r\nHost: boxoffice\r\n\r\n")
                status = stream.readline()
                assert status.startswith(b"HTTP/1.1 200"), status
                length = 0
                while (line := stream.readline()) != b"\r\n":
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                assert stream.read(length) == b'{"status":"up"}'

            connection.sendall(b"THIS IS NOT HTTP\r\n\r\n")  # uvicorn answers and closes
            refused = stream.read()  # until the server closes the connection
            assert refused.startswith(b"HTTP/1.1 400"), refused
