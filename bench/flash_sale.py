"""Flash-sale benchmark: many buyers at once for one hot quota, against the real server.

    .venv/bin/python bench/flash_sale.py [--engine sqlite|postgresql|both] [--buyers 200]
                                         [--capacity 1000] [--demand 2000] [--workers N]
                                         [--flow checkout|two-step] [--pay stripe]
                                         [--postgres-over socket|tcp]

For each engine: a fresh database (SQLite file; or a throwaway PostgreSQL server with its
durable defaults, fsync on, reached over its Unix socket as a server on the same machine
should be: ``--postgres-over tcp`` for loopback TCP) with one published event whose single ticket type sells from one
quota of ``capacity`` seats; ``boxoffice serve`` started on a free port (SQLite: 1 process,
whose group commit beats two processes taking turns at the file lock; PostgreSQL: 2 worker
processes; ``--workers``); ``demand`` buyers, ``buyers`` of them in flight at any
moment, each doing what a buyer's client does to reach a pending order that holds capacity:
``POST /events/{id}/orders`` (one-request checkout; ``--flow two-step``: ``POST
/events/{id}/holds`` then ``POST /holds/{id}/order``). The load generator runs in
``--clients`` processes with a minimal keep-alive HTTP client so that it is not the
bottleneck itself, its connections opened before the sale starts (buyers wait on the sale
page); it shares the machine's two cores with the server, so the server gets less than the
whole machine (the CPU each side used is printed). Before the sale the server sells
``WARM_UP_PURCHASES`` tickets for another event (a real server has been selling before the
flash sale starts: pooled connections, prepared statements and code paths are warm).

Every buyer comes from an address of their own (``X-Forwarded-For`` from the loopback
proxy the server trusts), so the per-client hold limit is counted on every purchase, as in a
real sale. ``--pay stripe`` runs each purchase through to a confirmed order: the checkout,
then ``POST /orders/{number}/payments`` (the server creates a PaymentIntent at a local fake
of Stripe's API through the real SDK), the buyer paying at the fake, and the fake's signed
``payment_intent.succeeded`` webhook delivered to the server; a purchase then counts when its
order is confirmed, and the confirmed orders are read back from the database.

Prints purchases per second (over the time until the last purchase), refusals, p50/p95/p99
latency of a purchase and of a refusal, peak RSS per server process, and the oversell count
read back from the database (must be 0). Targets (issue 5, 2 cores): >= 500 purchases/s on
each engine, p99 < 500 ms, RSS < 300 MB per process.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from measure import (
    KeepAliveClient,
    bench_database,
    cpu_seconds,
    postgres_cpu_seconds,
    quantiles,
    rss_mb,
)
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.booking.models import Order
from boxoffice.core.catalog.lifecycle import EventStatus
from boxoffice.core.catalog.models import Quota
from boxoffice.core.catalog.schemas import EventDraft, QuotaIn, TicketTypeIn
from boxoffice.core.catalog.service import change_status, create_event
from boxoffice.core.catalog.tickets import create_quota, create_ticket_type
from boxoffice.core.clock import SystemClock
from boxoffice.core.identity.service import create_organization
from boxoffice.core.money import Price
from boxoffice.core.storage import Database, create_engine
from boxoffice.migrations import upgrade
from boxoffice.regions.eu import EuropeanUnion
from boxoffice.testing import ServerProcesses
from boxoffice.testing.fakes import FakeStripe

PLUGINS = """
[regions]
enabled = ["eu"]

[[routing.payments]]
providers = ["{gateway}"]

[[routing.notifications]]
kind = "email"
providers = ["log"]
"""


STRIPE = """
[providers.stripe]
secret_key = "env:STRIPE_SECRET_KEY"
webhook_secret = "env:STRIPE_WEBHOOK_SECRET"
api_base = "env:STRIPE_API_BASE"
"""
FAKE_STRIPE_KEY = "sk_test_flash_sale_benchmark"

#: Purchases for another event before the sale: the server has been selling for a while
#: (connections pooled and their statements prepared, code paths warm), as a real one has.
WARM_UP_PURCHASES = 300


def eu_pack(region_id: str) -> EuropeanUnion | None:
    """The region packs the bench's server enables (the repository's plugins.toml)."""
    return EuropeanUnion() if region_id == "eu" else None


async def create_sale(
    session: AsyncSession,
    clock: SystemClock,
    organization_id: uuid.UUID,
    slug: str,
    seats: int,
    *,
    price_minor: int = 4900,
    max_per_order: int = 10,
) -> tuple[str, str, str]:
    """A published event in the EU region a month from now, with one ticket type selling
    from one quota of ``seats``: (event id, ticket type id, quota id). The benchmarks' and
    the drills' sale."""
    starts = clock.now() + timedelta(days=30)
    event = await create_event(
        session,
        clock,
        organization_id,
        EventDraft(
            slug=slug,
            title=slug.replace("-", " ").title(),
            timezone="Europe/Berlin",
            starts_at=starts,
            ends_at=starts + timedelta(hours=3),
            region="eu",
            currency="EUR",
            country="DE",
            venue_name="Arena",
            city="Berlin",
            description="One night only.",
        ),
        regions=eu_pack,
    )
    ticket = await create_ticket_type(
        session,
        clock,
        event,
        TicketTypeIn(name="Standing", price=Price(price_minor, "EUR"), max_per_order=max_per_order),
    )
    quota = await create_quota(
        session, clock, event, QuotaIn(name="Arena", capacity=seats, ticket_types=[ticket.id])
    )
    await change_status(session, clock, event.id, EventStatus.PUBLISHED, regions=eu_pack)
    return str(event.id), str(ticket.id), str(quota.id)


async def seed(
    url: str, capacity: int, label: str = ""
) -> tuple[tuple[str, str, str], tuple[str, str]]:
    """Migrate and create the sale's event and a warm-up event; returns (event id, ticket
    type id, quota id) of the sale and (event id, ticket type id) of the warm-up. ``label``
    tells apart the sales of one database (their slugs)."""
    db = Database(create_engine(url))
    await upgrade(db)
    clock = SystemClock()
    made = []
    async with db.transaction() as session:
        org = await create_organization(session, clock, slug=f"bench{label}", name="Bench")
        for slug, seats in (
            (f"flash-sale{label}", capacity),
            (f"warm-up{label}", WARM_UP_PURCHASES),
        ):
            made.append(await create_sale(session, clock, org.id, slug, seats))
    await db.close()
    (sale, warm_up) = made
    return sale, warm_up[:2]


async def _buyers(
    urls: list[str],
    event_id: str,
    ticket_id: str,
    first: int,
    count: int,
    concurrency: int,
    flow: str,
    start_at: float,
    stripe_url: str = "",
) -> list[tuple[str, float, float]]:
    """Run ``count`` buyers, ``concurrency`` at a time: (outcome, ended, latency ms)."""
    results: list[tuple[str, float, float]] = []
    gate = asyncio.Semaphore(concurrency)
    clients = {base: KeepAliveClient(base) for base in urls}
    for client in clients.values():
        await client.open(min(concurrency, count) // len(clients) + 1)
    stripe = KeepAliveClient(stripe_url) if stripe_url else None
    if stripe is not None:
        await stripe.open(min(concurrency, count) // 4 + 1)
    await asyncio.sleep(max(0.0, start_at - time.time()))  # all client processes start together
    items = [{"ticket_type_id": ticket_id, "quantity": 1}]

    async def buy(client: KeepAliveClient, index: int) -> str:
        buyer = {"name": "Fan", "email": f"fan{index}@example.org"}
        address = {"X-Forwarded-For": f"10.{index >> 16 & 255}.{index >> 8 & 255}.{index & 255}"}
        if flow == "checkout":
            status, order = await client.post(
                f"/api/v1/events/{event_id}/orders", {"items": items, "buyer": buyer}, address
            )
        else:
            status, hold = await client.post(
                f"/api/v1/events/{event_id}/holds", {"items": items}, address
            )
            if status != 201:
                return "sold-out" if status == 409 else f"error {status}"
            status, order = await client.post(
                f"/api/v1/holds/{hold['id']}/order",
                {"secret": hold["secret"], "buyer": buyer},
                address,
            )
        if status != 201:
            return "sold-out" if status == 409 else f"error {status}"
        if stripe is None:
            return "purchase"
        return await pay(client, order, address)

    async def pay(client: KeepAliveClient, order: dict[str, Any], address: dict[str, str]) -> str:
        """Through to a confirmed order: the payment, the buyer paying, Stripe's webhook."""
        assert stripe is not None
        status, payment = await client.post(
            f"/api/v1/orders/{order['number']}/payments",
            {"secret": order["secret"], "gateway": "stripe"},
            address,
        )
        if status != 201:
            return f"error {status} (payment)"
        intent = payment["client_secret"].split("_secret_")[0]
        status, event = await stripe.post(
            f"/_fake/pay/{intent}", b"", {"Authorization": f"Bearer {FAKE_STRIPE_KEY}"}
        )
        if status != 200:
            return f"error {status} (stripe)"
        status, told = await client.post(
            "/api/v1/payments/webhooks/stripe",
            event["body"].encode(),
            {"Stripe-Signature": event["headers"]["stripe-signature"]},
        )
        return "purchase" if status == 200 and told["outcome"] == "applied" else f"error {status}"

    async def buyer(index: int) -> None:
        async with gate:
            began = time.perf_counter()
            outcome = await buy(clients[urls[index % len(urls)]], index)
            ended = time.perf_counter()
            results.append((outcome, ended, (ended - began) * 1000))

    await asyncio.gather(*[buyer(first + i) for i in range(count)])
    for client in clients.values():
        client.close()
    if stripe is not None:
        stripe.close()
    return results


def _client_process(
    args: tuple[list[str], str, str, int, int, int, str, float, str],
) -> tuple[list[Any], float]:
    """One load-generator process: its results and the CPU seconds it used."""
    urls, event_id, ticket_id, first, count, concurrency, flow, start_at, stripe_url = args
    began = time.process_time()
    results = asyncio.run(
        _buyers(urls, event_id, ticket_id, first, count, concurrency, flow, start_at, stripe_url)
    )
    return results, time.process_time() - began


async def _oversold(url: str, quota_id: str) -> tuple[int, int, int, int, int]:
    """The quota's capacity, sold and held counts, the tickets ordered, and the orders
    confirmed, read back from the database."""
    import uuid

    db = Database(create_engine(url))
    async with db.read() as session:
        quota = await session.get(Quota, uuid.UUID(quota_id))
        assert quota is not None
        tickets = await session.scalar(
            select(func.coalesce(func.sum(Order.tickets), 0)).where(
                Order.event_id == quota.event_id
            )
        )
        confirmed = await session.scalar(
            select(func.count())
            .select_from(Order)
            .where(Order.event_id == quota.event_id, Order.status == "confirmed")
        )
    await db.close()
    return quota.capacity, quota.sold, quota.held, int(tickets or 0), int(confirmed or 0)


def run(engine: str, args: argparse.Namespace) -> dict[str, Any]:
    over = args.postgres_over
    with bench_database(engine, "flash", args.workers, over=over) as (url, workers, workdir):
        fake: FakeStripe | None = None
        try:
            (event_id, ticket_id, quota_id), (warm_event, warm_ticket) = asyncio.run(
                seed(url, args.capacity)
            )
            plugins = workdir / "plugins.toml"
            paying = args.pay == "stripe"
            plugins.write_text(
                (STRIPE if paying else "")
                + PLUGINS.replace("{gateway}", "stripe" if paying else "offline")
            )
            if paying:
                fake = FakeStripe(api_key=FAKE_STRIPE_KEY)
                fake.start()
            env = {
                "BOXOFFICE_DATABASE_URL": url,
                "BOXOFFICE_DATA_DIR": str(workdir),
                "BOXOFFICE_PLUGINS_FILE": str(plugins),
                "BOXOFFICE_LOG_LEVEL": "WARNING",
                "BOXOFFICE_SECRET_KEY": "flash-sale-benchmark-secret-key-0123456789",
            }
            if fake is not None:
                env |= {
                    "STRIPE_SECRET_KEY": fake.api_key,
                    "STRIPE_WEBHOOK_SECRET": fake.webhook_secret,
                    "STRIPE_API_BASE": fake.url,
                }
            servers = ServerProcesses(1, env, workers=workers)
            with servers as urls:
                # Warm up: a few reads, then purchases for the other event, 40 at a time so that
                # every process pools connections and prepares its statements on them.
                with httpx.Client(timeout=10) as client:
                    for _ in range(20 * workers):
                        client.get(f"{urls[0]}/api/v1/events/{event_id}/ticket-types")
                warm = asyncio.run(
                    _buyers(
                        urls,
                        warm_event,
                        warm_ticket,
                        10**6,
                        WARM_UP_PURCHASES,
                        40,
                        args.flow,
                        time.time(),
                        fake.url if fake is not None else "",
                    )
                )
                if any(outcome != "purchase" for outcome, _, _ in warm):
                    raise SystemExit(f"warm-up purchases failed: {sorted({o for o, _, _ in warm})}")
                clients = args.clients
                per_client = args.demand // clients
                start_at = time.time() + 3.0  # time to connect first
                jobs = [
                    (
                        urls,
                        event_id,
                        ticket_id,
                        i * per_client,
                        per_client,
                        max(1, args.buyers // clients),
                        args.flow,
                        start_at,
                        fake.url if fake is not None else "",
                    )
                    for i in range(clients)
                ]
                cpu_before = sum(cpu_seconds(pid) for pid in servers.pids())
                database_before = postgres_cpu_seconds()
                with multiprocessing.get_context("spawn").Pool(clients) as pool:
                    batches = pool.map(_client_process, jobs)
                server_cpu = sum(cpu_seconds(pid) for pid in servers.pids()) - cpu_before
                database_cpu = postgres_cpu_seconds() - database_before
                rss = {pid: rss_mb(pid) for pid in servers.pids()}
            results = [r for batch, _ in batches for r in batch]
            client_cpu = sum(cpu for _, cpu in batches)
            purchases = [r for r in results if r[0] == "purchase"]
            refusals = [r for r in results if r[0] == "sold-out"]
            errors = [r for r in results if r[0].startswith("error")]
            capacity, sold, held, ordered, confirmed = asyncio.run(_oversold(url, quota_id))
            oversold = max(0, sold + held - capacity, ordered - capacity)
            return {
                "engine": engine,
                "workers": workers,
                "results": results,
                "purchases": purchases,
                "refusals": refusals,
                "errors": errors,
                "rss": rss,
                "oversold": oversold,
                "held": held,
                "ordered": ordered,
                "confirmed": confirmed,
                "paying": paying,
                "server_cpu": server_cpu,
                "client_cpu": client_cpu,
                "database_cpu": database_cpu if engine == "postgresql" else None,
            }
        finally:
            if fake is not None:
                fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--buyers", type=int, default=200, help="buyers in flight at once")
    parser.add_argument("--capacity", type=int, default=1000)
    parser.add_argument("--demand", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=0, help="server processes")
    parser.add_argument("--clients", type=int, default=2, help="load-generator processes")
    parser.add_argument(
        "--postgres-over",
        choices=["socket", "tcp"],
        default="socket",
        help="reach PostgreSQL over its Unix socket (a server on the same machine) or loopback TCP",
    )
    parser.add_argument(
        "--flow",
        choices=["checkout", "two-step"],
        default="checkout",
        help="one request (POST /events/{id}/orders) or a hold then its order",
    )
    parser.add_argument(
        "--pay",
        choices=["none", "stripe"],
        default="none",
        help="stripe: every purchase through to a confirmed order (payment and webhook)",
    )
    args = parser.parse_args()
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    print(
        f"flash sale: {args.demand} buyers, {args.buyers} at once, quota of {args.capacity}, "
        f"1 ticket each, {args.flow} flow"
        + (", paid with Stripe (a local fake) to confirmation" if args.pay == "stripe" else "")
        + f"; {datetime.now(UTC):%Y-%m-%d}"
    )
    for engine in engines:
        report = run(engine, args)
        purchases, refusals = report["purchases"], report["refusals"]
        first = min(r[1] - r[2] / 1000 for r in report["results"])
        last = max(r[1] for r in purchases) if purchases else first
        rate = len(purchases) / (last - first) if last > first else 0.0
        rss = ", ".join(f"{mb:.0f}" for mb in report["rss"].values())
        over = f", over {args.postgres_over}" if engine == "postgresql" else ""
        print(f"\n{engine} ({report['workers']} server process(es){over}):")
        print(
            f"  purchases {len(purchases)}  refusals {len(refusals)}  "
            f"errors {len(report['errors'])}  oversold {report['oversold']}"
        )
        print(f"  {'confirmed orders' if report['paying'] else 'purchases'}/s {rate:.0f}")
        if report["paying"]:
            print(f"  confirmed orders in the database: {report['confirmed']}")
        print(f"  purchase latency ms: {quantiles([r[2] for r in purchases])}")
        print(f"  refusal latency ms:  {quantiles([r[2] for r in refusals])}")
        print(f"  peak RSS MB per server process: {rss}")
        buyers = len(report["results"])
        print(
            f"  CPU ms per buyer (purchase or refusal): server "
            f"{1000 * report['server_cpu'] / buyers:.2f}, load generator "
            f"{1000 * report['client_cpu'] / buyers:.2f}"
            + (
                f", PostgreSQL {1000 * report['database_cpu'] / buyers:.2f}"
                if report["database_cpu"] is not None
                else ""
            )
        )
        p99 = (
            statistics.quantiles([r[2] for r in purchases], n=100)[98] if len(purchases) > 1 else 0
        )
        verdict = rate >= 500 and p99 < 500 and max(report["rss"].values()) < 300
        if report["paying"] and report["confirmed"] != len(purchases):
            print(f"  MISMATCH: {len(purchases)} purchases seen, {report['confirmed']} confirmed")
            verdict = False
        print(
            f"  targets (>= 500/s, p99 < 500 ms, RSS < 300 MB, 0 oversold): "
            f"{'met' if verdict and report['oversold'] == 0 else 'NOT met'}"
        )


if __name__ == "__main__":
    main()
