"""Exports of a big event: 100,000 orders (and their 100,000 attendees) as CSV and XLSX
from a real server, streamed to nowhere, while the server's memory is watched.

The orders are written straight into the database (placing them through the API would take
the benchmark's whole time and is measured elsewhere). Printed: each export's size and
time, and the server's resident memory before (after a small warm-up export) and its peak
during the export. Flat memory means the peak stays near the baseline whatever the count.

    .venv/bin/python bench/exports.py --engine sqlite --orders 100000
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import timedelta

import httpx
from checkin import PLUGINS, seed
from measure import bench_database, rss_mb
from sqlalchemy import insert, select

from boxoffice.core.booking.models import Order, OrderItem
from boxoffice.core.clock import SystemClock
from boxoffice.core.identity.models import User
from boxoffice.core.identity.service import create_api_key
from boxoffice.core.storage import Database, create_engine
from boxoffice.testing import ServerProcesses

CHUNK = 5_000


async def add_orders(url: str, seeded: dict[str, str], count: int) -> str:
    """``count`` confirmed orders of one ticket each; returns an API key that reads them."""
    db = Database(create_engine(url))
    clock = SystemClock()
    now = clock.now()
    event_id, org_id = uuid.UUID(seeded["event"]), uuid.UUID(seeded["org"])
    ticket_type = uuid.UUID(seeded["ticket_type"])
    for start in range(0, count, CHUNK):
        orders, items = [], []
        for n in range(start, min(count, start + CHUNK)):
            order_id = uuid.uuid4()
            at = now - timedelta(seconds=count - n)
            orders.append(
                {
                    "id": order_id,
                    "number": f"B{n:09d}",
                    "secret_hash": "0" * 64,
                    "event_id": event_id,
                    "organization_id": org_id,
                    "status": "confirmed",
                    "buyer_name": f"Buyer Number {n}",
                    "buyer_email": f"buyer{n}@example.org",
                    "buyer_country": "DE",
                    "locale": "de",
                    "currency": "EUR",
                    "subtotal_minor": 2900,
                    "discount_minor": 0,
                    "fees_minor": 0,
                    "tax_minor": 463,
                    "total_minor": 2900,
                    "refunded_minor": 0,
                    "breakdown": {},
                    "allocations": {},
                    "tickets": 1,
                    "created_at": at,
                    "updated_at": at,
                    "confirmed_at": at,
                    "cancel_reason": "",
                }
            )
            items.append(
                {
                    "id": uuid.uuid4(),
                    "order_id": order_id,
                    "ticket_type_id": ticket_type,
                    "position": 0,
                    "attendee_name": f"Buyer Number {n}",
                    "attendee_email": f"buyer{n}@example.org",
                    "answers": {"T-shirt size": "M"},
                    "price_minor": 2900,
                    "total_minor": 2900,
                    "tax_minor": 463,
                    "quota_ids": [],
                    "status": "valid",
                }
            )
        async with db.transaction() as session:
            await session.execute(insert(Order), orders)
            await session.execute(insert(OrderItem), items)
    async with db.transaction() as session:
        user = (await session.scalars(select(User))).one()
        key, _ = await create_api_key(session, clock, org_id, "exports", ["orders:read"], by=user)
    await db.close()
    return key


def export(url: str, path: str, key: str, pid: int) -> tuple[int, float, float]:
    """(bytes, seconds, the server's peak RSS in MB after it)."""
    began, size = time.perf_counter(), 0
    with httpx.stream(
        "GET", url + path, headers={"authorization": f"Bearer {key}"}, timeout=600
    ) as answer:
        answer.raise_for_status()
        for chunk in answer.iter_bytes():
            size += len(chunk)
    return size, time.perf_counter() - began, rss_mb(pid)


def run(engine: str, count: int) -> None:
    with bench_database(engine, "exports", 1) as (url, _workers, workdir):
        seeded = asyncio.run(seed(url, count))
        began = time.perf_counter()
        key = asyncio.run(add_orders(url, seeded, count))
        print(f"  {engine}: {count} orders written in {time.perf_counter() - began:.1f} s")
        plugins = workdir / "plugins.toml"
        plugins.write_text(PLUGINS)
        env = {
            "BOXOFFICE_DATABASE_URL": url,
            "BOXOFFICE_DATA_DIR": str(workdir),
            "BOXOFFICE_PLUGINS_FILE": str(plugins),
            "BOXOFFICE_LOG_LEVEL": "WARNING",
            "BOXOFFICE_SECRET_KEY": "exports-benchmark-secret-key-0123456789abcdef",
        }
        servers = ServerProcesses(1, env, workers=1)
        with servers as (server,):
            pid = servers.pids()[-1]
            base = f"/api/v1/organizations/{seeded['org']}/events/{seeded['event']}/exports"
            with httpx.Client() as warm:  # code paths loaded, caches filled
                warm.get(server + "/api/v1/events", timeout=30)
            baseline = rss_mb(pid)
            print(f"  server RSS after start: {baseline:.0f} MB")
            for name in ("orders.csv", "attendees.csv", "orders.xlsx", "attendees.xlsx"):
                size, seconds, peak = export(server, f"{base}/{name}", key, pid)
                print(
                    f"  {name:15} {size / 1e6:7.1f} MB in {seconds:5.1f} s "
                    f"({count / seconds:,.0f} rows/s); server peak RSS {peak:.0f} MB"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--orders", type=int, default=100_000)
    args = parser.parse_args()
    for engine in ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]:
        run(engine, args.orders)


if __name__ == "__main__":
    main()
