"""What the benchmarks measure of a server process, from ``/proc`` (Linux)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """CPU time of every PostgreSQL process on the machine (the benchmarks run one server):
    each live process's own, plus what the ones that ended gave their parent (``cutime``)."""
    total = 0.0
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat_file.read_text()
        except OSError:
            continue
        name, fields = text.split("(", 1)[1].rsplit(")", 1)
        if name != "postgres":
            continue
        values = fields.split()
        total += sum(int(v) for v in values[11:15])
    return total / os.sysconf("SC_CLK_TCK")


def quantiles(values: list[float], digits: int = 0) -> str:
    """p50, p95, p99 and max of latencies in ms ("n/a" for fewer than two)."""
    if len(values) < 2:
        return "n/a"
    q = statistics.quantiles(values, n=100)
    f = f".{digits}f"
    return f"p50 {q[49]:{f}}  p95 {q[94]:{f}}  p99 {q[98]:{f}}  max {max(values):{f}}"


def rss_mb(pid: int) -> float:
    """A process's peak resident memory (VmHWM), in MB."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


class KeepAliveClient:
    """A keep-alive HTTP/1.1 client for JSON requests, just enough for a load generator.
    aiohttp spends about 0.5 ms of CPU per request on this machine, httpx more: the load
    generator shares the two cores with the server, so every millisecond it burns is taken
    from the server. This one writes the request bytes and reads Content-Length bytes."""

    def __init__(self, base: str) -> None:
        host_port = base.removeprefix("http://")
        self.host, port = host_port.split(":")
        self.port = int(port)
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def open(self, count: int) -> None:
        """Connect ahead: buyers wait on the sale page before it opens, so the figures
        measure purchases rather than a storm of TCP handshakes at the starting gun."""
        for _ in range(count):
            self.idle.append(await asyncio.open_connection(self.host, self.port))

    async def post(
        self,
        path: str,
        body: dict[str, Any] | bytes,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        return await self.request("POST", path, payload, headers)

    async def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        return await self.request("GET", path, None, headers)

    async def request(
        self, method: str, path: str, payload: bytes | None, headers: dict[str, str] | None
    ) -> tuple[int, Any]:
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        if payload is not None:
            extra += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        request = (f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n{extra}\r\n").encode() + (
            payload or b""
        )
        if self.idle:
            reader, writer = self.idle.pop()
        else:
            reader, writer = await asyncio.open_connection(self.host, self.port)
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        content = await reader.readexactly(length)
        self.idle.append((reader, writer))
        return status, json.loads(content) if content else None

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()


@contextlib.contextmanager
def bench_database(
    engine: str, name: str, workers: int = 0, *, over: str = "socket"
) -> Iterator[tuple[str, int, Path]]:
    """A fresh database for one benchmark run: (URL, server processes, work directory). SQLite:
    a file (one process, its supported shape); PostgreSQL: a throwaway server with its durable
    defaults (fsync on) and 2 worker processes, reached over its Unix socket (``over="tcp"``:
    loopback TCP), as a server on the same machine should be (docs/deploy.md). ``workers``
    overrides the count."""
    from boxoffice.testing import PostgresServer, find_postgres_bindir

    workdir = Path(tempfile.mkdtemp(prefix=f"boxoffice-{name}-{engine}-"))
    if engine != "postgresql":
        yield f"sqlite:///{workdir / f'{name}.sqlite3'}", workers or 1, workdir
        return
    bindir = find_postgres_bindir()
    if bindir is None:
        raise SystemExit("PostgreSQL server binaries not found (see tests' POSTGRES_HELP)")
    postgres = PostgresServer.start(bindir, durable=True)
    try:
        postgres.execute(f"CREATE DATABASE {name}")
        url = postgres.database_url(name) if over == "tcp" else postgres.socket_url(name)
        yield url, workers or 2, workdir
    finally:
        postgres.stop()
