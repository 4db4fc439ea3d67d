"""Search benchmark: full-text discovery over 100,000 published events on the real server.

    .venv/bin/python bench/search.py [--events 100000] [--queries 400] [--database-url URL]

Seeds a fresh database (SQLite file by default) with published events, their ticket types,
quotas and search index; starts `boxoffice serve` on a free loopback port; sends the queries
one after another with an HTTP client; prints p50/p95/p99 latency and the server's peak RSS.
The target (issue 4): p95 under 50 ms on the default engine (SQLite).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from measure import rss_mb
from sqlalchemy import insert

from boxoffice.core.catalog.models import Event, Quota, QuotaTicketType, TicketType
from boxoffice.core.identity.models import Organization
from boxoffice.core.ids import new_id
from boxoffice.core.search.backend import SearchDocument
from boxoffice.core.storage import Database, create_engine
from boxoffice.migrations import upgrade
from boxoffice.providers.dbsearch import DbSearchBackend

WORDS = """
jazz rock opera ballet comedy festival concert symphony quartet choir techno house folk blues
soul punk metal indie acoustic piano violin guitar drums orchestra chamber recital theatre
musical cabaret circus magic poetry reading lecture workshop conference summit meetup hackathon
marathon derby football basketball tennis chess yoga dance salsa tango wine beer food market fair
exhibition gallery museum cinema film premiere screening night morning sunset harbour garden
rooftop castle cathedral warehouse park river lake spring summer autumn winter gala charity
family kids student open late grand little midnight matinee live unplugged tribute classic
modern baroque electronic world latin
""".split()
CITIES = [
    ("Vienna", "AT", 48.2, 16.37),
    ("Berlin", "DE", 52.52, 13.4),
    ("Paris", "FR", 48.86, 2.35),
    ("Madrid", "ES", 40.42, -3.7),
    ("Rome", "IT", 41.9, 12.5),
    ("Lisbon", "PT", 38.72, -9.14),
    ("Prague", "CZ", 50.08, 14.43),
    ("Dublin", "IE", 53.35, -6.26),
]
#: Event texts follow Zipf's law like real ones: the real words above are the most frequent,
#: then a long tail of rarer (synthetic) words, so a query matches a realistic share of events.
SYLLABLES = (
    "ka lo mi ra ne so tu vi be da fe gi ho ju ly ma no pe qu ri sa te vo wa xi yo ze".split()
)


def vocabulary(rng: random.Random, size: int = 3000) -> list[str]:
    tail = {"".join(rng.choices(SYLLABLES, k=rng.randint(2, 4))) for _ in range(size * 2)}
    return WORDS + sorted(tail - set(WORDS))[: size - len(WORDS)]


def zipf_weights(size: int) -> list[float]:
    return [1 / (rank + 1) for rank in range(size)]


QUERIES = [
    "jazz",
    "opera night",
    "rock festival",
    "summer",
    "harb",
    "chamber recital",
    "techno warehouse",
    "kids",
    "baroque cathedral",
    "wine",
    "midnight jazz",
    "tango",
    "marathon",
    "film premiere",
    "sym",
    "grand gala charity",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def seed(url: str, count: int) -> None:
    db = Database(create_engine(url))
    await upgrade(db)
    rng = random.Random(42)
    words = vocabulary(rng)
    weights = zipf_weights(len(words))
    now = datetime.now(UTC)
    org_id = new_id()
    async with db.transaction() as session:
        await session.execute(
            insert(Organization).values(
                id=org_id, slug="bench", name="Bench", contact_email="", created_at=now
            )
        )
    backend = DbSearchBackend(db)
    batch = 2000
    for start in range(0, count, batch):
        events, tickets, quotas, links, documents = [], [], [], [], []
        for i in range(start, min(count, start + batch)):
            event_id, ticket_id, quota_id = new_id(), new_id(), new_id()
            city, country, lat, lon = rng.choice(CITIES)
            title = " ".join(rng.choices(words, weights, k=rng.randint(2, 5))).capitalize()
            description = " ".join(rng.choices(words, weights, k=25))
            starts = now + timedelta(days=rng.randint(1, 365), hours=rng.randint(0, 23))
            events.append(
                dict(
                    id=event_id,
                    organization_id=org_id,
                    slug=f"e{i}",
                    title=title,
                    description=description,
                    status="published",
                    timezone="Europe/Vienna",
                    starts_at=starts,
                    ends_at=starts + timedelta(hours=3),
                    venue_name="Hall",
                    city=city,
                    country=country,
                    region="eu",
                    currency="EUR",
                    language="en",
                    created_at=now,
                    updated_at=now,
                    published_at=now,
                    tags=[],
                    address="",
                    latitude=lat + rng.uniform(-0.1, 0.1),
                    longitude=lon + rng.uniform(-0.1, 0.1),
                    online=False,
                    online_url="",
                    contact_email="",
                    refund_policy="",
                    hold_ttl_seconds=600,
                    local_start_date=starts.date().isoformat(),
                )
            )
            tickets.append(
                dict(
                    id=ticket_id,
                    event_id=event_id,
                    name="General",
                    description="",
                    price_minor=rng.choice([0, 1500, 2500, 4900]),
                    currency="EUR",
                    min_per_order=1,
                    max_per_order=10,
                    visibility="public",
                    position=0,
                    created_at=now,
                    updated_at=now,
                )
            )
            quotas.append(
                dict(
                    id=quota_id,
                    event_id=event_id,
                    name="Hall",
                    capacity=500,
                    sold=rng.randint(0, 500),
                    held=0,
                    created_at=now,
                )
            )
            links.append(dict(quota_id=quota_id, ticket_type_id=ticket_id))
            documents.append(
                SearchDocument(
                    kind="event", id=str(event_id), title=title, body=f"{description}\n{city}"
                )
            )
        async with db.transaction() as session:
            await session.execute(insert(Event), events)
            await session.execute(insert(TicketType), tickets)
            await session.execute(insert(Quota), quotas)
            await session.execute(insert(QuotaTicketType), links)
        await backend.index(documents)
        print(f"  seeded {min(count, start + batch):>7} events", end="\r", flush=True)
    print()
    await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--reuse", type=Path, help="a data directory an earlier run seeded")
    args = parser.parse_args()
    workdir = args.reuse or Path(tempfile.mkdtemp(prefix="boxoffice-bench-"))
    url = args.database_url or f"sqlite+aiosqlite:///{workdir / 'bench.sqlite3'}"
    if args.reuse is None:
        print(f"seeding {args.events} published events into {url.split('@')[-1]}")
        started = time.perf_counter()
        asyncio.run(seed(url, args.events))
        print(f"seeded in {time.perf_counter() - started:.1f} s (data: {workdir})")

    port = free_port()
    env = {
        **os.environ,
        "BOXOFFICE_DATA_DIR": str(workdir),
        "BOXOFFICE_DATABASE_URL": url,
        "BOXOFFICE_LOG_LEVEL": "WARNING",
        "BOXOFFICE_RUN_DISPATCHER": "false",
        "BOXOFFICE_PLUGINS_FILE": str(Path(__file__).parents[1] / "plugins.toml"),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "boxoffice", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=10) as client:
            for _ in range(200):
                try:
                    if client.get("/health/live").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            rng = random.Random(7)
            for query in QUERIES:  # warm up
                client.get("/api/v1/events", params={"q": query})
            timings, hits = [], []
            for _ in range(args.queries):
                params = {"q": rng.choice(QUERIES)}
                if rng.random() < 0.3:
                    params["city"] = rng.choice(CITIES)[0]
                began = time.perf_counter()
                response = client.get("/api/v1/events", params=params)
                timings.append((time.perf_counter() - began) * 1000)
                assert response.status_code == 200, response.text
                hits.append(len(response.json()["items"]))
        quantiles = statistics.quantiles(timings, n=100)
        print(
            f"search over {args.events} events, {args.queries} queries "
            f"(30% with a city filter), {statistics.mean(hits):.1f} results per page on average"
        )
        print(
            f"latency ms: p50 {quantiles[49]:.1f}  p95 {quantiles[94]:.1f}  "
            f"p99 {quantiles[98]:.1f}  max {max(timings):.1f}"
        )
        print(f"server peak RSS: {rss_mb(server.pid):.0f} MB")
        print("target p95 < 50 ms:", "met" if quantiles[94] < 50 else "NOT met")
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
