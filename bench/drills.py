"""Reliability drills: boxoffice under the failures production meets, checked afterwards
against the invariants (docs/deploy.md). Each also runs short in CI (tests/drills/).

    .venv/bin/python bench/drills.py crash   [--engine postgresql|sqlite] [--buyers 1500]
    .venv/bin/python bench/drills.py restart [--buyers 1500]
    .venv/bin/python bench/drills.py soak    [--minutes 10]

**crash**: a flash sale (free tickets, so an order the buyer is shown is confirmed at once)
on two API processes and a separate ``boxoffice worker``; buyers check out in one request
or hold then order, some abandon their hold, each retrying with its ``Idempotency-Key`` on
another process when one fails, as a real client does. Midway one API process and the worker
are killed with SIGKILL; the worker is started again (SQLite: the one API process is killed
and started again). Afterwards: every order a buyer was shown confirmed exists, confirmed,
exactly once per buyer; every hold is converted or released; every journal entry is
delivered (the analytics projection counts exactly the tickets sold, each confirmed order
has its e-mail); the capacity arithmetic is exact (``assert_books_balance``).

**restart**: the same sale on PostgreSQL, whose server is stopped (fast shutdown) for a few
seconds mid-load and started again: while it is down requests get 503 problem+json (not a
500, not a hang), afterwards they succeed; nothing is half-written (the same checks).

**soak**: ``minutes`` of mixed traffic (browse, search, sign-in, checkout, cancel) on
PostgreSQL with two API processes and a worker; the servers' RSS and open connections are
sampled each minute and must stay flat (the last third's mean within 15 % and 20 MB of the
first third's, after a warm-up minute).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select, update

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.booking.helpers: the books' balance, as the tests check it

from flash_sale import create_sale  # noqa: E402
from tests.booking.helpers import assert_books_balance  # noqa: E402

from boxoffice.core.analytics import reports  # noqa: E402
from boxoffice.core.booking.models import Hold, Order  # noqa: E402
from boxoffice.core.catalog.models import Event  # noqa: E402
from boxoffice.core.clock import SystemClock  # noqa: E402
from boxoffice.core.identity.service import create_organization  # noqa: E402
from boxoffice.core.storage import Database, create_engine  # noqa: E402
from boxoffice.migrations import upgrade  # noqa: E402
from boxoffice.testing import ServerProcesses  # noqa: E402

PLUGINS = """
[regions]
enabled = ["eu"]

[search]
backend = "dbsearch"

[providers.log]
directory = "outbox"

[[routing.payments]]
providers = ["offline"]

[[routing.notifications]]
kind = "email"
providers = ["log"]
"""
#: Seconds a hold lasts in the drills (the API's minimum is 60; the drill sets it in the
#: database so that abandoned holds lapse while it watches).
HOLD_SECONDS = 4
#: The soak's accounts (signing in spreads over them, as people do) and their password.
ACCOUNTS = 20
SOAK_PASSWORD = "correct horse battery staple 42"


@dataclass
class Sale:
    event_id: str
    ticket_id: str
    capacity: int


@dataclass
class Outcomes:
    confirmed: dict[str, str] = field(default_factory=dict)  # buyer -> order number
    sold_out: int = 0
    abandoned: int = 0
    errors: list[str] = field(default_factory=list)
    retries: int = 0
    unavailable: list[dict[str, Any]] = field(default_factory=list)  # 503 problems seen
    failed: dict[int, int] = field(default_factory=dict)  # 5xx answers by status


async def seed(url: str, capacity: int) -> Sale:
    """Migrate; the benchmarks' sale (``flash_sale.create_sale``) with a free ticket type
    and short holds."""
    db = Database(create_engine(url))
    await upgrade(db)
    clock = SystemClock()
    async with db.transaction() as session:
        org = await create_organization(session, clock, slug="drill", name="Drill")
        event_id, ticket_id, _ = await create_sale(
            session, clock, org.id, "drill", capacity, price_minor=0, max_per_order=4
        )
        await session.execute(
            update(Event)
            .where(Event.id == uuid.UUID(event_id))
            .values(hold_ttl_seconds=HOLD_SECONDS, refund_deadline_hours=24)
        )
    await db.close()
    return Sale(event_id, ticket_id, capacity)


def environment(url: str, workdir: Path) -> dict[str, str]:
    plugins = workdir / "plugins.toml"
    plugins.write_text(PLUGINS)
    return {
        "BOXOFFICE_DATABASE_URL": url,
        "BOXOFFICE_DATA_DIR": str(workdir),
        "BOXOFFICE_PLUGINS_FILE": str(plugins),
        "BOXOFFICE_SECRET_KEY": "reliability-drill-secret-key-0123456789abcdef",
        "BOXOFFICE_RUN_DISPATCHER": "false",
        "BOXOFFICE_LOG_LEVEL": "WARNING",
        "BOXOFFICE_DB_POOL_SIZE": "5",
    }


class Worker:
    """A ``boxoffice worker`` process that can be killed and started again."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = {**os.environ, **env}
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "boxoffice", "worker"],
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )

    def wait_running(self) -> None:
        """Until it says it runs (its loops started), at most a minute."""
        from boxoffice.cli import WORKER_RUNNING

        deadline = time.monotonic() + 60
        while WORKER_RUNNING not in self.log.read_text(errors="replace"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.1)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Servers:
    """``count`` single-process API servers; one can be killed and replaced (new port)."""

    def __init__(self, count: int, env: dict[str, str]) -> None:
        self.env = env
        self.groups = [ServerProcesses(1, env) for _ in range(count)]
        #: The errors the servers logged as unexpected (each a 500), read at close.
        self.unexpected: list[str] = []
        self.urls = [group.__enter__()[0] for group in self.groups]

    def kill(self, index: int) -> None:
        self.groups[index].kill(0)
        self.urls[index] = ""  # clients skip it

    def restart(self, index: int) -> None:
        self.unexpected.extend(_unexpected_errors(self.groups[index].log(0)))
        self.groups[index].__exit__(None, None, None)
        self.groups[index] = ServerProcesses(1, self.env)
        self.urls[index] = self.groups[index].__enter__()[0]

    def close(self) -> None:
        for group in self.groups:
            self.unexpected.extend(_unexpected_errors(group.log(0)))
            group.__exit__(None, None, None)

    def pids(self) -> list[int]:
        return [pid for group in self.groups for pid in group.pids()]


async def buy(
    http: httpx.AsyncClient,
    servers: Servers,
    sale: Sale,
    index: int,
    outcomes: Outcomes,
    rng: random.Random,
) -> None:
    """One buyer: a one-request checkout (60 %), a hold then its order (30 %), or a hold
    abandoned (10 %); every request retried with its Idempotency-Key, on the next process,
    until it gets an answer that is not a 5xx (within a minute)."""
    buyer = {"name": "Fan", "email": f"fan{index}@example.org"}
    items = [{"ticket_type_id": sale.ticket_id, "quantity": 1}]
    address = {"x-forwarded-for": f"10.{index >> 16 & 255}.{index >> 8 & 255}.{index & 255}"}
    choice = rng.random()

    async def call(path: str, body: dict[str, Any]) -> httpx.Response | None:
        key = str(uuid.uuid4())
        deadline = time.monotonic() + 60
        attempt = index
        while time.monotonic() < deadline:
            live = [url for url in servers.urls if url]
            url = live[attempt % len(live)] if live else ""
            attempt += 1
            try:
                if not url:
                    raise httpx.ConnectError("no server")
                answer = await http.post(
                    url + path, json=body, headers={"idempotency-key": key, **address}
                )
            except httpx.TransportError:
                outcomes.retries += 1
                await asyncio.sleep(0.2)
                continue
            if answer.status_code < 500:
                return answer
            outcomes.failed[answer.status_code] = outcomes.failed.get(answer.status_code, 0) + 1
            if answer.status_code == 503 and len(outcomes.unavailable) < 50:
                outcomes.unavailable.append(
                    {"content-type": answer.headers.get("content-type"), **answer.json()}
                )
            outcomes.retries += 1
            await asyncio.sleep(0.2)
        outcomes.errors.append(f"{path}: no answer within a minute")
        return None

    if choice < 0.6:
        placed = await call(
            f"/api/v1/events/{sale.event_id}/orders", {"items": items, "buyer": buyer}
        )
    else:
        held = await call(f"/api/v1/events/{sale.event_id}/holds", {"items": items})
        if held is None:
            return
        if held.status_code == 409:
            outcomes.sold_out += 1
            return
        if held.status_code != 201:
            outcomes.errors.append(f"hold {held.status_code}: {held.text[:200]}")
            return
        if choice >= 0.9:
            outcomes.abandoned += 1
            return
        hold = held.json()
        placed = await call(
            f"/api/v1/holds/{hold['id']}/order", {"secret": hold["secret"], "buyer": buyer}
        )
    if placed is None:
        return
    if placed.status_code == 409:
        outcomes.sold_out += 1
    elif placed.status_code == 201 and placed.json()["status"] == "confirmed":
        outcomes.confirmed[buyer["email"]] = placed.json()["number"]
    else:
        outcomes.errors.append(f"order {placed.status_code}: {placed.text[:200]}")


def sale_budget(buyers: int) -> float:
    """Seconds a drill's sale may take before it counts as stuck (tens of times what it
    takes on a quiet machine: a stuck sale fails with its report instead of hanging)."""
    return 60.0 + 0.3 * buyers


async def flash_sale(
    servers: Servers, sale: Sale, buyers: int, concurrency: int, midway: Any
) -> Outcomes:
    """``buyers`` buyers, ``concurrency`` at once; ``midway()`` runs (in a thread) when
    a third of them have finished. A sale that outlasts :func:`sale_budget` is cut short
    and says so in its errors."""
    outcomes = Outcomes()
    budget = sale_budget(buyers)
    try:
        await asyncio.wait_for(_sale(servers, sale, buyers, concurrency, midway, outcomes), budget)
    except TimeoutError:
        outcomes.errors.insert(0, f"the sale was stuck: unfinished after {budget:.0f} s")
    return outcomes


async def _sale(
    servers: Servers,
    sale: Sale,
    buyers: int,
    concurrency: int,
    midway: Any,
    outcomes: Outcomes,
) -> None:
    gate = asyncio.Semaphore(concurrency)
    rng = random.Random(7)
    done = 0
    fired = False
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0)) as http:

        async def one(index: int) -> None:
            nonlocal done, fired
            async with gate:
                await buy(http, servers, sale, index, outcomes, rng)
            done += 1
            if not fired and done >= buyers // 3:
                fired = True
                await asyncio.to_thread(midway)

        await asyncio.gather(*(one(i) for i in range(buyers)))


async def books(url: str, sale: Sale, outcomes: Outcomes, outbox: Path) -> dict[str, Any]:
    """The invariants, read back from the database once the worker has caught up."""
    db = Database(create_engine(url))
    try:
        deadline = time.monotonic() + 90  # a killed worker's lease lapses first
        while True:
            async with db.read() as session:
                event = await session.get(Event, uuid.UUID(sale.event_id))
                assert event is not None
                active = await session.scalar(
                    select(func.count()).select_from(Hold).where(Hold.status == "active")
                )
                orders = {
                    row.buyer_email: (row.number, row.status, row.tickets)
                    for row in await session.execute(
                        select(Order.buyer_email, Order.number, Order.status, Order.tickets)
                    )
                }
                summary = await reports.summary(session, event)
            sold = sum(t for _, status, t in orders.values() if status == "confirmed")
            mailed = _mailed(outbox)
            caught_up = (
                active == 0
                and summary.revenue.tickets_sold == sold
                and all(number in mailed for number, _, _ in orders.values())
            )
            if caught_up or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        balance = await assert_books_balance(db)
        async with db.read() as session:
            per_buyer = await session.execute(
                select(Order.buyer_email, func.count())
                .group_by(Order.buyer_email)
                .having(func.count() > 1)
            )
            doubles = [tuple(row) for row in per_buyer.all()]
    finally:
        await db.close()
    missing = {
        email: number
        for email, number in outcomes.confirmed.items()
        if orders.get(email, ("", "", 0))[:2] != (number, "confirmed")
    }
    ((capacity, quota_sold, quota_held),) = balance.values()
    return {
        "shown confirmed": len(outcomes.confirmed),
        "confirmed in the database": sum(1 for _, s, _ in orders.values() if s == "confirmed"),
        "shown confirmed but missing": missing,
        "buyers with two orders": doubles,
        "holds still active": active,
        "quota": {"capacity": capacity, "sold": quota_sold, "held": quota_held},
        "analytics tickets sold": summary.revenue.tickets_sold,
        "tickets sold": sold,
        "orders without their e-mail": [
            n for n, _, _ in orders.values() if n not in _mailed(outbox)
        ],
        "sold out answers": outcomes.sold_out,
        "abandoned holds": outcomes.abandoned,
        "retries": outcomes.retries,
        "5xx answers (retried)": outcomes.failed,
        "errors": outcomes.errors[:10],
    }


def _unexpected_errors(log: str) -> list[str]:
    """The unhandled errors in a server's JSON log: type and the exception's last line."""
    found = []
    for line in log.splitlines():
        if '"unhandled_error"' in line:
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                lines = str(record.get("exception", "")).strip().splitlines()
                last = [line for line in lines if re.match(r"^[\w.]+(Error|Exception): ", line)][
                    -1:
                ]
                found.append(f"{record.get('error_type')}: {' '.join(last)[:200]}")
    return found


def _mailed(outbox: Path) -> str:
    return "".join(p.read_text() for p in outbox.glob("*.json")) if outbox.exists() else ""


def problems(report: dict[str, Any]) -> list[str]:
    """What broke an invariant (empty: the drill passed)."""
    found = []
    if report["shown confirmed but missing"]:
        found.append(f"orders shown confirmed but missing: {report['shown confirmed but missing']}")
    if report["buyers with two orders"]:
        found.append(
            f"a buyer's retried request made two orders: {report['buyers with two orders']}"
        )
    if report["holds still active"]:
        found.append(f"{report['holds still active']} holds neither converted nor released")
    if report["quota"]["held"]:
        found.append(f"capacity still held by nothing: {report['quota']}")
    if report["analytics tickets sold"] != report["tickets sold"]:
        found.append("journal not delivered exactly once to the analytics projection")
    if report["orders without their e-mail"]:
        found.append(f"orders without their e-mail: {report['orders without their e-mail'][:5]}")
    if "503 were problem+json" in report:  # the restart drill
        if not report["503 answers while the database was down"]:
            found.append("no request met the database down: the restart came too late")
        if not report["503 were problem+json"]:
            found.append("a 503 was not problem+json")
    if report.get("server errors (500)"):
        found.append(f"500 answers: {report['server errors (500)'][:5]}")
    if report["errors"]:
        found.append(f"buyers without an answer: {report['errors']}")
    if report["tickets sold"] == 0:
        found.append("nothing was sold: the drill did not run")
    return found


def explain(report: dict[str, Any]) -> str:
    """A failed drill's report for a person: the figures, then the processes' log tails."""
    tails = report.get("log tails", {})
    figures = {key: value for key, value in report.items() if key != "log tails"}
    text = json.dumps(figures, indent=1, default=str)
    for name, tail in tails.items():
        text += f"\n--- {name}, last lines of its log:\n{tail}"
    return text


def _run_sale(
    servers: Servers,
    worker: Worker,
    url: str,
    workdir: Path,
    sale: Sale,
    buyers: int,
    concurrency: int,
    midway: Any,
) -> tuple[Outcomes, dict[str, Any]]:
    """The sale with ``midway`` a third of the way in, then the books once the worker has
    caught up; the servers and the worker stopped whatever happens. Buyers left without
    an answer: the report ends with the tail of each server's and the worker's log."""
    logs: dict[str, str] = {}
    try:
        outcomes = asyncio.run(flash_sale(servers, sale, buyers, concurrency, midway))
        if outcomes.errors:
            logs = {f"server {i}": group.log(0)[-3000:] for i, group in enumerate(servers.groups)}
            logs["worker"] = worker.log.read_text(errors="replace")[-3000:]
        report = asyncio.run(books(url, sale, outcomes, workdir / "outbox"))
    finally:
        servers.close()
        worker.stop()
    return outcomes, {
        "server errors (500)": sorted(set(servers.unexpected)),
        **report,
        **({"log tails": logs} if logs else {}),
    }


def crash(
    url: str, workdir: Path, *, buyers: int, capacity: int, concurrency: int
) -> dict[str, Any]:
    sale = asyncio.run(seed(url, capacity))
    env = environment(url, workdir)
    postgres = url.startswith("postgresql")
    servers = Servers(2 if postgres else 1, env)
    worker = Worker(env, workdir / "worker.log")
    worker.start()
    worker.wait_running()
    killed: list[str] = []

    def midway() -> None:
        servers.kill(0)
        worker.kill()
        killed.append("an API process and the worker, SIGKILL")
        time.sleep(1.0)
        worker.start()
        if not postgres:  # SQLite: its one process, started again
            servers.restart(0)

    _, report = _run_sale(servers, worker, url, workdir, sale, buyers, concurrency, midway)
    return {"killed": killed, **report}


def restart(
    postgres: Any,
    url: str,
    workdir: Path,
    *,
    buyers: int,
    capacity: int,
    concurrency: int,
    down: float = 3.0,
) -> dict[str, Any]:
    """``postgres``: a :class:`boxoffice.testing.PostgresServer` this drill may restart."""
    sale = asyncio.run(seed(url, capacity))
    env = environment(url, workdir)
    servers = Servers(2, env)
    worker = Worker(env, workdir / "worker.log")
    worker.start()
    worker.wait_running()

    def midway() -> None:
        postgres.restart(down=down)

    outcomes, report = _run_sale(servers, worker, url, workdir, sale, buyers, concurrency, midway)
    problems_seen = outcomes.unavailable
    return {
        "503 answers while the database was down": len(problems_seen),
        "503 were problem+json": all(
            p.get("content-type") == "application/problem+json" for p in problems_seen
        ),
        "503 types": sorted({str(p.get("type")) for p in problems_seen}),
        **report,
    }


@contextlib.contextmanager
def postgres_database(name: str) -> Iterator[tuple[Any, str, Path]]:
    from boxoffice.testing import PostgresServer, find_postgres_bindir

    bindir = find_postgres_bindir()
    if bindir is None:
        raise SystemExit("PostgreSQL server binaries not found")
    server = PostgresServer.start(bindir, durable=True)
    workdir = Path(tempfile.mkdtemp(prefix="boxoffice-drill-"))  # kept: the logs
    try:
        server.execute(f"CREATE DATABASE {name}")
        yield server, server.database_url(name), workdir
    finally:
        server.stop()


def soak(url: str, workdir: Path, *, minutes: float, concurrency: int = 8) -> dict[str, Any]:
    """Mixed traffic for ``minutes``; RSS and connections sampled every ``minutes/10``."""
    sale = asyncio.run(seed(url, 10**6))
    env = environment(url, workdir)
    servers = Servers(2, env)
    worker = Worker(env, workdir / "worker.log")
    worker.start()
    worker.wait_running()
    samples: list[tuple[float, float, int]] = []
    stop = threading.Event()
    counts: dict[str, int] = {}
    statuses: dict[int, int] = {}
    try:
        accounts = [f"soak{n}@example.org" for n in range(ACCOUNTS)]
        for n, email in enumerate(accounts):
            made = httpx.post(
                f"{servers.urls[0]}/api/v1/auth/register",
                json={"email": email, "password": SOAK_PASSWORD, "name": "Sam Example"},
                headers={"x-forwarded-for": f"192.0.2.{n + 1}"},
            )
            if made.status_code != 202:  # the same answer whether or not the address is new
                raise RuntimeError(f"registering {email}: {made.status_code} {made.text}")

        def sample() -> None:
            interval = max(1.0, minutes * 60 / 10)
            while not stop.wait(interval):
                pids = servers.pids() + ([worker.process.pid] if worker.process else [])
                rss = sum(_rss_mb(pid) for pid in pids)
                samples.append((time.monotonic(), rss, _connections(url)))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        asyncio.run(
            _mixed_traffic(servers, sale, minutes * 60, concurrency, accounts, counts, statuses)
        )
    finally:
        stop.set()
        servers.close()
        worker.stop()
    third = max(1, len(samples) // 3)
    first, last = samples[1 : 1 + third] or samples[:1], samples[-third:]
    rss_first = sum(s[1] for s in first) / len(first)
    rss_last = sum(s[1] for s in last) / len(last)
    conn_first = sum(s[2] for s in first) / len(first)
    conn_last = sum(s[2] for s in last) / len(last)
    return {
        "requests": counts,
        "statuses": statuses,
        "rss MB (all processes) first third, last third": (round(rss_first, 1), round(rss_last, 1)),
        "database connections first third, last third": (round(conn_first, 1), round(conn_last, 1)),
        "samples": [(round(s[1], 1), s[2]) for s in samples],
        "rss flat": rss_last <= max(rss_first * 1.15, rss_first + 20),
        "connections flat": conn_last <= conn_first + 2,
        "5xx": sum(n for code, n in statuses.items() if code >= 500),
    }


async def _mixed_traffic(
    servers: Servers,
    sale: Sale,
    seconds: float,
    concurrency: int,
    accounts: list[str],
    counts: dict[str, int],
    statuses: dict[int, int],
) -> None:
    ends = time.monotonic() + seconds
    rng = random.Random(11)
    index = 0

    async def user(http: httpx.AsyncClient) -> None:
        nonlocal index
        while time.monotonic() < ends:
            index += 1
            n = index
            base = servers.urls[n % len(servers.urls)]
            address = {"x-forwarded-for": f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"}
            kind = rng.choices(
                ["browse", "event", "search", "sign-in", "checkout", "cancel"],
                weights=[40, 25, 15, 5, 10, 5],
            )[0]
            counts[kind] = counts.get(kind, 0) + 1
            if kind == "browse":
                answers = [await http.get(f"{base}/api/v1/events")]
            elif kind == "event":
                answers = [
                    await http.get(f"{base}/api/v1/events/{sale.event_id}"),
                    await http.get(f"{base}/api/v1/events/{sale.event_id}/ticket-types"),
                ]
            elif kind == "search":
                answers = [await http.get(f"{base}/api/v1/events", params={"q": "drill"})]
            elif kind == "sign-in":
                answers = [
                    await http.post(
                        f"{base}/api/v1/auth/login",
                        json={"email": rng.choice(accounts), "password": SOAK_PASSWORD},
                        headers=address,
                    )
                ]
            else:
                placed = await http.post(
                    f"{base}/api/v1/events/{sale.event_id}/orders",
                    json={
                        "items": [{"ticket_type_id": sale.ticket_id, "quantity": 1}],
                        "buyer": {"name": "Soak", "email": f"soak{n}@example.org"},
                    },
                    headers=address,
                )
                answers = [placed]
                if kind == "cancel" and placed.status_code == 201:
                    order = placed.json()
                    answers.append(
                        await http.post(
                            f"{base}/api/v1/orders/{order['number']}/cancel",
                            json={"secret": order["secret"]},
                        )
                    )
            for answer in answers:
                statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1

    async with httpx.AsyncClient(timeout=30) as http:
        await asyncio.gather(*(user(http) for _ in range(concurrency)))


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _connections(url: str) -> int:
    async def count() -> int:
        import asyncpg  # type: ignore[import-untyped]

        connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
        try:
            return int(
                await connection.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                )
                - 1
            )
        finally:
            await connection.close()

    return asyncio.run(count())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("drill", choices=["crash", "restart", "soak"])
    parser.add_argument("--engine", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--buyers", type=int, default=1500)
    parser.add_argument("--capacity", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()
    started = time.monotonic()
    if args.drill == "crash" and args.engine == "sqlite":
        workdir = Path(tempfile.mkdtemp(prefix="boxoffice-drill-"))
        report = crash(
            f"sqlite:///{workdir / 'drill.sqlite3'}",
            workdir,
            buyers=args.buyers,
            capacity=args.capacity,
            concurrency=args.concurrency,
        )
    else:
        with postgres_database("drill") as (server, url, workdir):
            if args.drill == "crash":
                report = crash(
                    url,
                    workdir,
                    buyers=args.buyers,
                    capacity=args.capacity,
                    concurrency=args.concurrency,
                )
            elif args.drill == "restart":
                report = restart(
                    server,
                    url,
                    workdir,
                    buyers=args.buyers,
                    capacity=args.capacity,
                    concurrency=args.concurrency,
                )
            else:
                report = soak(url, workdir, minutes=args.minutes)
    report["seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(report, indent=2, default=str))
    print(f"work directory (logs, outbox): {workdir}")
    broken = (
        problems(report)
        if args.drill != "soak"
        else [k for k in ("rss flat", "connections flat") if not report[k]]
        + (["5xx answers"] if report["5xx"] else [])
    )
    print("invariants:", "held" if not broken else "BROKEN: " + "; ".join(broken))
    sys.exit(1 if broken else 0)


if __name__ == "__main__":
    main()
