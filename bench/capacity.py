"""The capacity model of docs/scaling.md as a simulation: an arrival curve of buyers replayed,
second by second, against the measured cost of each request.

    .venv/bin/python bench/capacity.py                       # the national on-sale
    .venv/bin/python bench/capacity.py --buyers 1000000 --seats 50000 --minutes 10 \\
        --api-processes 24 --admit 3000 --sections 20
    .venv/bin/python bench/capacity.py --platform            # 100k events, 10M views/day

Each arriving buyer loads the event page and its availability (public reads: from the
process's read cache, a miss per page per process per second), waits in the waiting room
until admitted (``--admit`` buyers per second; 0: no waiting room), then holds and orders
(two requests; a refusal when the section is sold out), and pays (a payment request and the
gateway's webhook) — a fraction abandon at each step. Requests queue for the API fleet's
CPU (``--api-processes`` x ``--core-share``) and for their quota row: each section's quota
row takes one purchase at a time, ``--row-ms`` each (the hot-row limit). Prints, per
minute: arrivals, admitted, sold, API CPU used (cores), the busiest section row's use, the
p99 wait; then what breaks first.

The default costs are the ones measured on the 2-core reference machine (README,
"Benchmarks"; docs/performance.md): change them with the flags when your machine differs.
"""

from __future__ import annotations

import argparse
import math
import random
from collections import deque
from dataclasses import dataclass, field

#: Measured (README "Benchmarks", PostgreSQL, 2 API processes + worker on 2 cores): server
#: CPU in milliseconds per request.
COSTS_MS = {
    "cached read": 0.08,  # event page, ticket types, list: from the read cache
    "read miss": 5.0,  # the event list computed (10,000 events), once per page/process/second
    "hold": 1.0,  # POST /events/{id}/holds
    "order": 1.0,  # POST /holds/{id}/order
    "refusal": 0.8,  # sold out: the conditional update finds no seats
    "payment": 2.0,  # POST /orders/{n}/payments (a call to the gateway) + its webhook
}
#: PostgreSQL CPU per purchase (the primary): measured in the flash sale.
DB_MS_PER_PURCHASE = 0.9


@dataclass
class Outcome:
    minute_rows: list[tuple[int, int, int, int, float, float, float]] = field(default_factory=list)
    sold: int = 0
    sold_out_at: int | None = None
    peak_api_cores: float = 0.0
    peak_db_cores: float = 0.0
    peak_row_use: float = 0.0
    peak_queue: int = 0
    waits: list[float] = field(default_factory=list)


def arrivals(buyers: int, minutes: float, seconds: int) -> list[int]:
    """Buyers arriving each second: most in the first minute (everyone was waiting for the
    on-sale time), decaying over ``minutes`` — an exponential with a third of the mass in
    the first minute, normalised to ``buyers``."""
    rate = 1.0 / (minutes * 60 / 3.5)
    weights = [math.exp(-rate * t) for t in range(int(minutes * 60))]
    total = sum(weights)
    counts = [int(buyers * w / total) for w in weights]
    counts[0] += buyers - sum(counts)
    return counts + [0] * (seconds - len(counts))


def simulate(args: argparse.Namespace) -> Outcome:
    rng = random.Random(1)
    seconds = int(args.minutes * 60 * 3)
    curve = arrivals(args.buyers, args.minutes, seconds)
    per_section = [args.seats // args.sections] * args.sections
    per_section[0] += args.seats - sum(per_section)
    api_ms_per_second = args.api_processes * args.core_share * 1000.0
    row_capacity = 1000.0 / args.row_ms  # purchases per second per quota row
    waiting: deque[int] = deque()  # arrival second of each buyer in the waiting room
    outcome = Outcome()
    minute = [0, 0, 0, 0, 0.0, 0.0, 0.0]
    backlog_ms = 0.0  # API work not yet done (queued requests)
    for second in range(seconds):
        arrived = curve[second]
        waiting.extend([second] * arrived)
        outcome.peak_queue = max(outcome.peak_queue, len(waiting))
        # Page views of the arrivals and of those waiting (they poll availability every 5 s).
        reads = arrived * 2 + len(waiting) // 5
        read_ms = reads * COSTS_MS["cached read"] + 3 * args.api_processes * COSTS_MS["read miss"]
        admit = len(waiting) if args.admit == 0 else min(len(waiting), args.admit)
        purchase_ms, sold_now, db_ms = 0.0, 0, 0.0
        row_use = [0.0] * args.sections
        for _ in range(admit):
            arrived_at = waiting.popleft()
            section = rng.randrange(args.sections)
            if per_section[section] == 0:
                open_sections = [i for i, left in enumerate(per_section) if left]
                if not open_sections:
                    purchase_ms += COSTS_MS["refusal"]
                    continue
                section = rng.choice(open_sections)
            if row_use[section] >= row_capacity:  # the row is saturated: back to the queue
                waiting.appendleft(arrived_at)
                break
            row_use[section] += 1
            purchase_ms += COSTS_MS["hold"]
            if rng.random() < args.abandon:
                continue  # the hold lapses; its seat returns (ignored: a small correction)
            purchase_ms += COSTS_MS["order"] + COSTS_MS["payment"]
            per_section[section] -= 1
            sold_now += 1
            db_ms += DB_MS_PER_PURCHASE
            outcome.waits.append(second - arrived_at)
        work_ms = read_ms + purchase_ms + backlog_ms
        done_ms = min(work_ms, api_ms_per_second)
        backlog_ms = work_ms - done_ms
        cores = done_ms / 1000.0
        outcome.sold += sold_now
        if outcome.sold_out_at is None and outcome.sold >= args.seats:
            outcome.sold_out_at = second
        outcome.peak_api_cores = max(outcome.peak_api_cores, (read_ms + purchase_ms) / 1000.0)
        outcome.peak_db_cores = max(outcome.peak_db_cores, db_ms / 1000.0)
        busiest = max(row_use) / row_capacity if row_capacity else 0.0
        outcome.peak_row_use = max(outcome.peak_row_use, busiest)
        minute[0] += arrived
        minute[1] += admit
        minute[2] += sold_now
        minute[4] = max(minute[4], cores)
        minute[5] = max(minute[5], busiest)
        minute[6] = max(minute[6], backlog_ms / 1000.0)
        if second % 60 == 59:
            minute[3] = len(waiting)
            outcome.minute_rows.append(tuple(minute))  # type: ignore[arg-type]
            minute = [0, 0, 0, 0, 0.0, 0.0, 0.0]
        if outcome.sold_out_at is not None and not waiting and second > args.minutes * 60:
            break
    return outcome


def report(args: argparse.Namespace, outcome: Outcome) -> None:
    print(
        f"on-sale: {args.buyers:,} buyers in {args.minutes:g} min for {args.seats:,} seats in "
        f"{args.sections} sections; {args.api_processes} API processes x {args.core_share:g} "
        f"core; waiting room admits {args.admit or 'everyone'}/s; row {args.row_ms:g} ms"
    )
    print("minute  arrived   admitted  sold     waiting   api cores  busiest row  backlog s")
    for i, (arrived, admitted, sold, waiting, cores, row, backlog) in enumerate(
        outcome.minute_rows
    ):
        print(
            f"{i + 1:>6}  {arrived:>8,}  {admitted:>8,}  {sold:>7,}  {waiting:>8,}  "
            f"{cores:>9.1f}  {row:>10.0%}  {backlog:>9.1f}"
        )
    waits = sorted(outcome.waits)
    p99 = waits[int(len(waits) * 0.99)] if waits else 0
    sold_out = f"{outcome.sold_out_at / 60:.1f} min" if outcome.sold_out_at else "not sold out"
    print(
        f"sold {outcome.sold:,} ({sold_out}); buyers' wait in the queue p99 {p99} s; "
        f"peak API demand {outcome.peak_api_cores:.1f} cores "
        f"(fleet {args.api_processes * args.core_share:.1f}); PostgreSQL {outcome.peak_db_cores:.1f} "
        f"cores for purchases; busiest quota row {outcome.peak_row_use:.0%}; "
        f"peak waiting room {outcome.peak_queue:,}"
    )
    fleet = args.api_processes * args.core_share
    first = []
    if outcome.peak_api_cores > fleet:
        first.append(f"the API fleet ({outcome.peak_api_cores:.1f} cores asked of {fleet:.1f})")
    if outcome.peak_row_use >= 1.0:
        first.append("a section's quota row (more sections, or admit fewer per second)")
    print("breaks first: " + ("; ".join(first) if first else "nothing at this size"))


def platform(args: argparse.Namespace) -> None:
    """A platform's ordinary day: ``events`` published, ``views`` page views a day with a
    peak hour at ``peak`` times the mean, each view a page and its availability."""
    mean = args.views / 86_400
    peak = mean * args.peak
    requests = peak * 2
    # Each process computes each page at most once a second; with a long tail, most views of
    # the least-viewed events miss the cache: assume ``miss`` of requests miss.
    miss_ms = requests * args.miss * 1.5  # an event page or its availability computed
    hit_ms = requests * (1 - args.miss) * COSTS_MS["cached read"]
    cores = (miss_ms + hit_ms) / 1000
    print(
        f"platform: {args.events:,} events, {args.views:,} page views a day: {mean:.0f}/s on "
        f"average, {peak:.0f}/s at the peak hour ({requests:.0f} requests/s); "
        f"{args.miss:.0%} cache misses: {cores:.2f} cores of API, "
        f"{miss_ms / 1000 * 0.6:.2f} cores of database reads (replicas)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--buyers", type=int, default=1_000_000)
    parser.add_argument("--seats", type=int, default=50_000)
    parser.add_argument("--minutes", type=float, default=10.0, help="the arrival window")
    parser.add_argument("--sections", type=int, default=20, help="quota rows the seats are in")
    parser.add_argument("--api-processes", type=int, default=24)
    parser.add_argument("--core-share", type=float, default=0.8, help="a process's usable core")
    parser.add_argument("--admit", type=int, default=2000, help="waiting room, buyers/s (0: none)")
    parser.add_argument("--abandon", type=float, default=0.1, help="holds never ordered")
    parser.add_argument("--row-ms", type=float, default=0.4, help="quota row time a purchase")
    parser.add_argument("--platform", action="store_true", help="the ordinary day instead")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--views", type=int, default=10_000_000)
    parser.add_argument("--peak", type=float, default=4.0, help="peak hour / mean")
    parser.add_argument("--miss", type=float, default=0.3, help="share of reads that miss")
    args = parser.parse_args()
    if args.platform:
        platform(args)
        return
    report(args, simulate(args))


if __name__ == "__main__":
    main()
