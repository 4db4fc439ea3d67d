"""Read-path benchmark: the pages every buyer loads before a checkout, at flash-sale scale.

    .venv/bin/python bench/read_path.py [--engine sqlite|postgresql|both] [--events 10000]
                                        [--runs 3] [--duration 10] [--connections 50]
                                        [--idle 60] [--workers N]

For each engine: a fresh database seeded with ``--events`` published events (the search
benchmark's seeding: titles, cities, a ticket type and a quota each), ``boxoffice serve``
on a free port (SQLite: 1 process; PostgreSQL: 2 worker processes), then ``wrk -t2 -c50``
(``apt-get install wrk``) against each request for ``--duration`` seconds, ``--runs``
times after a warm-up:

- ``GET /api/v1/events`` (the first page, 20 events),
- ``GET /api/v1/events/{id}`` (an event page),
- ``GET /api/v1/events/{id}/ticket-types`` (its ticket types with their availability),
- the event page again with ``If-None-Match`` of its ETag (a 304, no body).

Each run prints requests/s, p50/p99 latency, non-2xx/3xx answers, the server's CPU per request
and wrk's own CPU per request beside it (the load generator shares the machine's two cores).
Then the server is left alone for ``--idle`` seconds and its CPU is reported as a share of
one core per process (target: < 0.5 %).

Targets (issue 18, 2 cores): each of the three requests >= 2,000 requests/s with p99 < 100 ms,
on SQLite (1 process) and PostgreSQL (2 processes); the conditional request cheaper than the
full one; an idle process < 0.5 % of a core.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from measure import bench_database, cpu_seconds, rss_mb
from search import seed

from boxoffice.testing import ServerProcesses

PLUGINS = Path(__file__).parents[1] / "plugins.toml"
#: wrk's latency lines (``--latency``): "50%  1.23ms".
_PERCENTILE = re.compile(r"^\s*(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(url: str, args: argparse.Namespace, headers: dict[str, str]) -> dict[str, Any]:
    """One wrk run; its figures and the CPU wrk itself used."""
    command = ["wrk", "-t2", f"-c{args.connections}", f"-d{args.duration}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    percentiles = {p: float(v) * _UNIT_MS[u] for p, v, u in _PERCENTILE.findall(out)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests": requests,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50": percentiles.get("50", 0.0),
        "p99": percentiles.get("99", 0.0),
        "errors": int(errors.group(1)) if errors else 0,
        "wrk_cpu": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
    }


def run(engine: str, args: argparse.Namespace) -> None:
    with bench_database(engine, "reads", args.workers) as (url, workers, workdir):
        print(f"\n== {engine}: seeding {args.events} published events")
        asyncio.run(seed(url, args.events))
        env = {
            "BOXOFFICE_DATABASE_URL": url,
            "BOXOFFICE_DATA_DIR": str(workdir),
            "BOXOFFICE_PLUGINS_FILE": str(PLUGINS),
            "BOXOFFICE_LOG_LEVEL": "WARNING",
            "BOXOFFICE_SECRET_KEY": "read-path-benchmark-secret-key-0123456789",
        }
        servers = ServerProcesses(1, env, workers=workers)
        with servers as (base,):
            with httpx.Client(base_url=base, timeout=10) as client:
                event = client.get("/api/v1/events").json()["items"][0]["id"]
                etag = client.get(f"/api/v1/events/{event}").headers["etag"]
            targets = [
                ("GET /api/v1/events", "/api/v1/events", {}),
                ("GET /api/v1/events/{id}", f"/api/v1/events/{event}", {}),
                (
                    "GET /api/v1/events/{id}/ticket-types",
                    f"/api/v1/events/{event}/ticket-types",
                    {},
                ),
                ("  ... If-None-Match (304)", f"/api/v1/events/{event}", {"If-None-Match": etag}),
            ]
            print(f"server processes: {len(servers.pids())} ({workers} worker(s))")
            print(
                f"{'request':<40} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} "
                f"{'server CPU ms/req':>17} {'wrk CPU ms/req':>14}"
            )
            for label, path, headers in targets:
                warm = argparse.Namespace(**{**vars(args), "duration": 2})
                wrk(base + path, warm, headers)
                for _ in range(args.runs):
                    cpu_before = sum(cpu_seconds(pid) for pid in servers.pids())
                    figures = wrk(base + path, args, headers)
                    server_cpu = sum(cpu_seconds(pid) for pid in servers.pids()) - cpu_before
                    per = 1000 / max(1, figures["requests"])
                    print(
                        f"{label:<40} {figures['rps']:>7.0f} {figures['p50']:>7.1f} "
                        f"{figures['p99']:>7.1f} {figures['errors']:>6} "
                        f"{server_cpu * per:>17.3f} {figures['wrk_cpu'] * per:>14.3f}",
                        flush=True,
                    )
            rss = ", ".join(f"{rss_mb(pid):.0f}" for pid in servers.pids())
            print(f"peak RSS per process (MB): {rss}")
            if args.idle:
                time.sleep(3)  # what the requests left behind settles
                before = {pid: cpu_seconds(pid) for pid in servers.pids()}
                time.sleep(args.idle)
                shares = [
                    100 * (cpu_seconds(pid) - used) / args.idle for pid, used in before.items()
                ]
                print(
                    f"idle for {args.idle} s: "
                    + ", ".join(f"{share:.2f} %" for share in shares)
                    + " of a core per process"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--idle", type=int, default=60, help="seconds of idle measured; 0: skip")
    parser.add_argument("--workers", type=int, default=0, help="server processes")
    args = parser.parse_args()
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    for engine in engines:
        run(engine, args)


if __name__ == "__main__":
    sys.exit(main())
