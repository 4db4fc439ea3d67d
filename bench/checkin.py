"""Check-in benchmark: 50 door scanners at once on a 20,000-ticket event, against the real
server; then what one PDF ticket and one confirmation e-mail cost.

    .venv/bin/python bench/checkin.py [--engine sqlite|postgresql|both] [--tickets 20000]
                                      [--scanners 50] [--repeat 0.1] [--workers N]

For each engine: a fresh database (SQLite file; or a throwaway PostgreSQL with fsync on),
``boxoffice serve`` on a free port (SQLite: 1 process; PostgreSQL: 2 workers), an event
whose free tickets are sold through the API in orders of 10 (the confirmation e-mails go to
the ``log`` channel and are all sent before the doors open; the PDF format is switched off
for the sale so that drawing 20,000 tickets does not run beside the scans), one check-in
list, and an organization API key with the ``checkin`` scope. Every ticket's credential is
read from the buyers' ``GET /orders/{number}/tickets``.

Then ``--scanners`` scanners, in two load-generator processes, each scanning its share of
the tickets through ``POST .../checkin-lists/{id}/scans`` as fast as the answers come; a
``--repeat`` share of the tickets is scanned a second time by another scanner at a random
moment (a ticket shown twice, a screenshot passed back over the fence). Prints scans per
second, p50/p95/p99 latency, the answers by kind, and double admissions: tickets that got
``valid`` more than once, read back from the answers and from the database (must be 0).
Targets (issue 12, 2 cores): >= 1,000 scans/s, p99 < 100 ms.

Last, in this process: the median time to draw one PDF ticket (target < 50 ms) and to send
one confirmation e-mail (its template rendered, two PDF tickets and the ``.ics`` attached)
through the ``smtp`` channel to a local SMTP server (aiosmtpd in a child process).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import statistics
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
from measure import KeepAliveClient, bench_database, cpu_seconds, quantiles
from sqlalchemy import func, select

from boxoffice.core.catalog.lifecycle import EventStatus
from boxoffice.core.catalog.schemas import EventDraft, QuotaIn, TicketTypeIn
from boxoffice.core.catalog.service import change_status, create_event
from boxoffice.core.catalog.tickets import create_quota, create_ticket_type
from boxoffice.core.checkin.models import Checkin
from boxoffice.core.checkin.service import CheckinListIn, create_list
from boxoffice.core.clock import SystemClock
from boxoffice.core.identity.accounts import AuthPolicy, register
from boxoffice.core.identity.models import User
from boxoffice.core.identity.schemas import RegisterIn
from boxoffice.core.identity.service import create_api_key, create_organization
from boxoffice.core.money import Price
from boxoffice.core.notify.channel import Attachment, Message
from boxoffice.core.notify.rendering import Renderer
from boxoffice.core.storage import Database, create_engine
from boxoffice.core.tickets.formats import TicketDocument
from boxoffice.core.tickets.service import TicketView
from boxoffice.migrations import upgrade
from boxoffice.providers.smtp import SmtpChannel, SmtpOptions
from boxoffice.providers.ticketpdf import PdfTicketFormat
from boxoffice.regions.eu import EuropeanUnion
from boxoffice.testing import ServerProcesses
from boxoffice.testing.smtp import SmtpReceiver

PLUGINS = """
[plugins]
disabled = ["ticketpdf"]

[regions]
enabled = ["eu"]

[[routing.payments]]
providers = ["offline"]

[[routing.notifications]]
kind = "email"
providers = ["log"]
"""
PER_ORDER = 10


def eu_pack(region_id: str) -> EuropeanUnion | None:
    return EuropeanUnion() if region_id == "eu" else None


async def seed(url: str, tickets: int) -> dict[str, str]:
    """The event, its free ticket type, a check-in list and an API key for the door."""
    db = Database(create_engine(url))
    await upgrade(db)
    clock = SystemClock()
    starts = clock.now() + timedelta(days=1)
    async with db.transaction() as session:
        await register(
            session,
            clock,
            AuthPolicy(public_url="http://localhost"),
            RegisterIn(
                email="door@example.org", password="Gates open at dawn, 7 sharp!", name="Door"
            ),
        )
        user = (await session.scalars(select(User))).one()
        user.email_verified_at = clock.now()
        org = await create_organization(session, clock, slug="door", name="Door", owner=user)
        key, _ = await create_api_key(session, clock, org.id, "scanners", ["checkin"], by=user)
        event = await create_event(
            session,
            clock,
            org.id,
            EventDraft(
                slug="stadium",
                title="Stadium Night",
                timezone="Europe/Berlin",
                starts_at=starts,
                ends_at=starts + timedelta(hours=4),
                region="eu",
                currency="EUR",
                country="DE",
                venue_name="Stadium",
                city="Berlin",
                description="Everyone at the gates at once.",
            ),
            regions=eu_pack,
        )
        ticket = await create_ticket_type(
            session,
            clock,
            event,
            TicketTypeIn(name="Standing", price=Price(0, "EUR"), max_per_order=PER_ORDER),
        )
        await create_quota(
            session,
            clock,
            event,
            QuotaIn(name="Stadium", capacity=tickets, ticket_types=[ticket.id]),
        )
        await change_status(session, clock, event.id, EventStatus.PUBLISHED, regions=eu_pack)
        gates = await create_list(session, clock, event, CheckinListIn(name="All gates"))
    await db.close()
    return {
        "org": str(org.id),
        "event": str(event.id),
        "ticket_type": str(ticket.id),
        "list": str(gates.id),
        "key": key,
    }


async def sell(base: str, seeded: dict[str, str], tickets: int) -> list[str]:
    """Sell every ticket through the API (orders of 10); returns their credentials."""
    client = KeepAliveClient(base)
    await client.open(20)
    gate = asyncio.Semaphore(20)
    credentials: list[str] = []

    async def order(index: int) -> None:
        async with gate:
            address = {"X-Forwarded-For": f"10.1.{index >> 8 & 255}.{index & 255}"}
            status, placed = await client.post(
                f"/api/v1/events/{seeded['event']}/orders",
                {
                    "items": [{"ticket_type_id": seeded["ticket_type"], "quantity": PER_ORDER}],
                    "buyer": {"name": "Fan", "email": f"fan{index}@example.org"},
                },
                address,
            )
            assert status == 201, (status, placed)
            status, passes = await client.get(
                f"/api/v1/orders/{placed['number']}/tickets?secret={placed['secret']}"
            )
            assert status == 200, (status, passes)
            credentials.extend(p["credential"] for p in passes)

    await asyncio.gather(*[order(i) for i in range(tickets // PER_ORDER)])
    client.close()
    return credentials


async def outbox_drained(url: str, patience: float = 600) -> None:
    """Wait until the confirmation e-mails are all sent (the doors open after the sale)."""
    from boxoffice.core.notify.models import MessageStatus, OutboundMessage

    db = Database(create_engine(url, pool_size=0))
    deadline = time.monotonic() + patience
    try:
        while time.monotonic() < deadline:
            async with db.read() as session:
                waiting = await session.scalar(
                    select(func.count()).where(OutboundMessage.status.in_(MessageStatus.OPEN))
                )
            if not waiting:
                return
            await asyncio.sleep(1)
        raise SystemExit(f"{waiting} confirmation e-mails still unsent after {patience} s")
    finally:
        await db.close()


async def _scanners(
    base: str, path: str, key: str, queues: list[list[str]], start_at: float
) -> list[tuple[str, str, float, float]]:
    """Each queue is one scanner's line of tickets: (credential, answer, ended, ms)."""
    client = KeepAliveClient(base)
    await client.open(len(queues))
    headers = {"Authorization": f"Bearer {key}"}
    results: list[tuple[str, str, float, float]] = []
    await asyncio.sleep(max(0.0, start_at - time.time()))

    async def scanner(number: int, line: list[str]) -> None:
        for credential in line:
            began = time.perf_counter()
            status, answer = await client.post(
                path, {"credential": credential, "gate": f"gate {number}"}, headers
            )
            ended = time.perf_counter()
            outcome = answer["result"] if status == 200 else f"error {status}"
            results.append((credential, outcome, ended, (ended - began) * 1000))

    await asyncio.gather(*[scanner(i, line) for i, line in enumerate(queues)])
    client.close()
    return results


def _client_process(
    job: tuple[str, str, str, list[list[str]], float],
) -> tuple[list[tuple[str, str, float, float]], float]:
    base, path, key, queues, start_at = job
    began = time.process_time()
    results = asyncio.run(_scanners(base, path, key, queues, start_at))
    return results, time.process_time() - began


async def _admitted_in_database(url: str, list_id: str) -> tuple[int, int]:
    """Rows let in through the list, and tickets with more than one (must be 0: the
    primary key forbids it)."""
    db = Database(create_engine(url, pool_size=0))
    async with db.read() as session:
        rows = await session.scalar(
            select(func.count()).where(Checkin.list_id == uuid.UUID(list_id))
        )
        doubled = await session.scalar(
            select(func.count()).select_from(
                select(Checkin.ticket_id)
                .where(Checkin.list_id == uuid.UUID(list_id))
                .group_by(Checkin.ticket_id)
                .having(func.count() > 1)
                .subquery()
            )
        )
    await db.close()
    return int(rows or 0), int(doubled or 0)


def run(engine: str, args: argparse.Namespace) -> None:
    with bench_database(engine, "checkin", args.workers) as (url, workers, workdir):
        seeded = asyncio.run(seed(url, args.tickets))
        plugins = workdir / "plugins.toml"
        plugins.write_text(PLUGINS)
        env = {
            "BOXOFFICE_DATABASE_URL": url,
            "BOXOFFICE_DATA_DIR": str(workdir),
            "BOXOFFICE_PLUGINS_FILE": str(plugins),
            "BOXOFFICE_LOG_LEVEL": "WARNING",
            "BOXOFFICE_SECRET_KEY": "checkin-benchmark-secret-key-0123456789abcdef",
        }
        servers = ServerProcesses(1, env, workers=workers)
        with servers as urls:
            began = time.perf_counter()
            credentials = asyncio.run(sell(urls[0], seeded, args.tickets))
            asyncio.run(outbox_drained(url))
            print(
                f"  sold {len(credentials)} tickets in {args.tickets // PER_ORDER} orders and "
                f"sent their e-mails in {time.perf_counter() - began:.1f} s"
            )
            path = (
                f"/api/v1/organizations/{seeded['org']}/events/{seeded['event']}"
                f"/checkin-lists/{seeded['list']}/scans"
            )
            with httpx.Client(timeout=10) as warm:  # a few scans of nothing: code paths warm
                for _ in range(50):
                    warm.post(
                        urls[0] + path,
                        json={"credential": "not-a-ticket"},
                        headers={"Authorization": f"Bearer {seeded['key']}"},
                    )
            shuffled = random.Random(12).sample(credentials, len(credentials))
            queues: list[list[str]] = [shuffled[i :: args.scanners] for i in range(args.scanners)]
            twice = random.Random(13).sample(credentials, int(len(credentials) * args.repeat))
            for index, credential in enumerate(twice):  # another scanner, a random moment
                line = queues[(index * 7 + 3) % args.scanners]
                line.insert(random.Random(index).randrange(len(line) + 1), credential)
            start_at = time.time() + 2.0
            jobs = [
                (urls[0], path, seeded["key"], queues[i::2], start_at)
                for i in range(2)  # two load-generator processes
            ]
            cpu_before = sum(cpu_seconds(pid) for pid in servers.pids())
            with multiprocessing.get_context("spawn").Pool(2) as pool:
                batches = pool.map(_client_process, jobs)
            server_cpu = sum(cpu_seconds(pid) for pid in servers.pids()) - cpu_before
        results = [r for batch, _ in batches for r in batch]
        client_cpu = sum(cpu for _, cpu in batches)
        first = min(ended - ms / 1000 for _, _, ended, ms in results)
        last = max(ended for _, _, ended, _ in results)
        answers = Counter(outcome for _, outcome, _, _ in results)
        valid = Counter(credential for credential, outcome, _, _ in results if outcome == "valid")
        doubled_answers = sum(1 for count in valid.values() if count > 1)
        rows, doubled_rows = asyncio.run(_admitted_in_database(url, seeded["list"]))
        print(
            f"{engine} ({workers} process{'es' if workers > 1 else ''}): {len(results)} scans "
            f"by {args.scanners} scanners in {last - first:.2f} s = "
            f"{len(results) / (last - first):.0f} scans/s"
        )
        print(f"  latency  {quantiles([ms for *_, ms in results], digits=1)}")
        print(f"  answers  {dict(sorted(answers.items()))}")
        print(
            f"  double admissions: {doubled_answers} by the answers, {doubled_rows} in the "
            f"database ({rows} tickets let in of {len(credentials)})"
        )
        print(
            f"  CPU: server {server_cpu:.1f} s ({server_cpu / len(results) * 1000:.2f} ms/scan), "
            f"load generator {client_cpu:.1f} s"
        )


def _document() -> TicketDocument:
    starts = datetime(2027, 6, 1, 17, 30, tzinfo=UTC)
    view = TicketView(
        ticket_id=uuid.uuid4(),
        status="valid",
        attendee_name="Ada Lovelace",
        ticket_type="Standing",
        event_id=uuid.uuid4(),
        event_title="Stadium Night",
        starts_at=starts,
        starts_at_local="2027-06-01T19:30:00+02:00",
        timezone="Europe/Berlin",
        venue_name="Stadium",
        address="Olympischer Platz 3",
        city="Berlin",
        online=False,
        version=1,
    )
    return TicketDocument(ticket=view, credential="B" * 132)


async def single_costs(rounds: int) -> None:
    pdf = PdfTicketFormat()
    document = _document()
    await pdf.render(document)  # fonts and code paths warm
    drawn = []
    for _ in range(rounds):
        began = time.perf_counter()
        ticket = await pdf.render(document)
        drawn.append((time.perf_counter() - began) * 1000)
    print(
        f"one PDF ticket: median {statistics.median(drawn):.1f} ms, max {max(drawn):.1f} ms "
        f"({len(ticket) / 1024:.0f} KiB)"
    )
    renderer = Renderer()
    data = {
        "name": "Ada",
        "number": "B7K2M9Q4XZ",
        "event": {
            "title": "Stadium Night",
            "starts_at": "2027-06-01T17:30:00+00:00",
            "timezone": "Europe/Berlin",
            "venue_name": "Stadium",
            "address": "Olympischer Platz 3",
            "city": "Berlin",
            "online": False,
        },
        "tickets": 2,
        "total": {"minor": 9800, "currency": "EUR"},
        "link": "http://localhost:8000/orders/B7K2M9Q4XZ?secret=x",
    }
    with SmtpReceiver() as smtp:
        channel = SmtpChannel(
            SmtpOptions(host="127.0.0.1", port=smtp.port, tls="none", from_address="t@example.org")
        )
        sent = []
        for index in range(rounds // 2):
            began = time.perf_counter()
            rendered = renderer.render("order-confirmed", "de", data)
            files = [Attachment("order.ics", "text/calendar", b"BEGIN:VCALENDAR\r\n")]
            for n in range(2):
                files.append(Attachment(f"{n}.pdf", "application/pdf", await pdf.render(document)))
            result = await channel.send(
                Message(
                    message_id=f"bench-{index}",
                    kind="email",
                    to=f"fan{index}@example.org",
                    subject=rendered.subject,
                    text=rendered.text,
                    html=rendered.html,
                    attachments=tuple(files),
                )
            )
            assert result.delivered, result.detail
            sent.append((time.perf_counter() - began) * 1000)
        arrived = len(smtp.received())
    print(
        f"one confirmation e-mail (rendered, 2 PDF tickets and an .ics, sent over SMTP): "
        f"median {statistics.median(sent):.1f} ms, max {max(sent):.1f} ms; {arrived} arrived"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--tickets", type=int, default=20_000)
    parser.add_argument("--scanners", type=int, default=50)
    parser.add_argument("--repeat", type=float, default=0.1, help="share scanned twice")
    parser.add_argument("--workers", type=int, default=0, help="server processes")
    parser.add_argument("--rounds", type=int, default=40, help="PDF and e-mail timings")
    args = parser.parse_args()
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    print(
        f"check-in: {args.tickets} tickets, {args.scanners} scanners at once, "
        f"{args.repeat:.0%} scanned twice; {datetime.now(UTC):%Y-%m-%d}"
    )
    for engine in engines:
        run(engine, args)
    asyncio.run(single_costs(args.rounds))


if __name__ == "__main__":
    main()
