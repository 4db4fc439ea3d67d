"""How ``boxoffice serve`` serves: a response's head and body leave in one write
(``api/serving.py``) and the connection behaves as before — keep-alive, a request uvicorn
itself refuses, a closed connection; and a PostgreSQL on the same machine is reached over
its Unix socket, by the API processes and the worker alike."""

from __future__ import annotations

import asyncio
import re
import socket
import time
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
from sqlalchemy.engine import make_url

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


def test_postgresql_on_the_same_machine_is_reached_over_its_unix_socket(
    db_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """``BOXOFFICE_DATABASE_URL=postgresql://user@/db?host=/run/postgresql`` (docs/deploy.md):
    the demo loads, two API processes and the worker serve a purchase and deliver its journal
    entry, and every connection they hold is a Unix-socket one (no client address)."""
    if not db_url.startswith("postgresql"):
        return  # SQLite is a file: there is no connection to choose
    name = make_url(db_url).database
    assert name is not None
    over_socket = request.getfixturevalue("boxoffice_postgres").socket_url(name)
    env = demo_environment(over_socket, tmp_path / "data")
    with ServerProcesses(1, env, workers=2) as (url,):
        event = httpx.get(f"{url}/api/v1/events").json()["items"][0]["id"]
        ticket_type = httpx.get(f"{url}/api/v1/events/{event}/ticket-types").json()[0]["id"]
        bought = httpx.post(
            f"{url}/api/v1/events/{event}/orders",
            json={
                "items": [{"ticket_type_id": ticket_type, "quantity": 1}],
                "buyer": {"name": "Near", "email": "near@example.org"},
            },
        )
        assert bought.status_code == 201, bought.text
        deadline = time.monotonic() + 30
        while behind := _journal_behind(httpx.get(f"{url}/metrics").text):
            assert time.monotonic() < deadline, f"the worker never caught up: {behind}"
            time.sleep(0.2)
        over_tcp, over_unix = asyncio.run(_connections(db_url, name))
    assert over_tcp == 0, "a server process reached PostgreSQL over TCP"
    assert over_unix >= 3, "the API processes and the worker each hold a connection"


def _journal_behind(metrics: str) -> dict[str, float]:
    found = re.findall(r'boxoffice_journal_behind_entries\{subscriber="([^"]+)"\} (\S+)', metrics)
    assert found, "the journal's subscribers are in /metrics"
    return {subscriber: float(n) for subscriber, n in found if float(n) > 0}


async def _connections(db_url: str, name: str) -> tuple[int, int]:
    """Connections to ``name`` other than this one: (over TCP, over the Unix socket)."""
    connection = await asyncpg.connect(db_url.replace("+asyncpg", ""))
    try:
        row = await connection.fetchrow(
            "SELECT count(*) FILTER (WHERE client_addr IS NOT NULL) AS tcp,"
            " count(*) FILTER (WHERE client_addr IS NULL) AS unix"
            " FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
    finally:
        await connection.close()
    return int(row["tcp"]), int(row["unix"])
