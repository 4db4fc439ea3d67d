"""uvicorn against granian, serving the same app on PostgreSQL: the event list (wrk) and the
one-request checkout of a flash sale, each server with 2 API processes and 1 ``boxoffice
worker`` beside them on the 2-core machine.

    .venv/bin/python bench/asgi_servers.py [--events 10000] [--runs 3] [--demand 2000]

needs ``wrk`` (``apt-get install wrk``) and granian (``pip install granian``; not a
dependency of boxoffice: this benchmark is why). uvicorn runs as ``boxoffice serve
--workers 2`` does (httptools, TCP_NODELAY); granian as ``granian --interface asgi --workers
2 --factory`` on ``create_app_from_env`` behind granian's proxy-headers wrapper. Prints req/s and p50/p99 of the list,
purchases/s and p99 of the sale, and the CPU per request of the servers and of the load
generator. docs/performance.md has the figures and the choice.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from flash_sale import PLUGINS as SALE_PLUGINS
from flash_sale import _client_process
from flash_sale import seed as seed_sale
from measure import bench_database, cpu_seconds, postgres_cpu_seconds
from read_path import wrk
from search import seed as seed_events

from boxoffice.testing import ServerProcesses

PLUGINS = SALE_PLUGINS.replace("{gateway}", "offline")


def server_command(server: str, port: int) -> list[str]:
    if server == "uvicorn":
        return [sys.executable, "-m", "boxoffice", "serve", "--workers", "2", "--port", str(port)]
    return [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "asgi",
        "--factory",
        "--workers",
        "2",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-ws",
        "asgi_servers:granian_app",
    ]


def granian_app() -> object:
    """The app as granian serves it: granian leaves ``X-Forwarded-For`` alone, so its own
    proxy-headers wrapper does what uvicorn's ``proxy_headers`` does for ``serve`` (the
    sale's buyers each come from an address of their own, as in the flash-sale bench)."""
    from granian.utils.proxies import wrap_asgi_with_proxy_headers

    from boxoffice.api.app import create_app_from_env

    return wrap_asgi_with_proxy_headers(create_app_from_env(), trusted_hosts="127.0.0.1")


@contextlib.contextmanager
def serving(server: str, env: dict[str, str]) -> Iterator[tuple[str, list[int]]]:
    """The server (and, for granian, the ``boxoffice worker`` that ``serve`` starts itself
    for uvicorn) until the block ends: (base URL, every process id)."""
    env = dict(env)
    worker = None
    if server == "granian":
        env["BOXOFFICE_RUN_DISPATCHER"] = "false"
        env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent), env.get("PYTHONPATH", "")])
        command = [sys.executable, "-m", "boxoffice", "worker"]
        worker = subprocess.Popen(command, env={**os.environ, **env}, stderr=subprocess.DEVNULL)
    servers = ServerProcesses(1, env, command=functools.partial(server_command, server))
    try:
        with servers as (base,):
            yield base, servers.pids() + ([worker.pid] if worker is not None else [])
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)


def run(args: argparse.Namespace) -> None:
    with bench_database("postgresql", "servers", 2) as (url, _, workdir):
        print(f"seeding {args.events} events and a sale of {args.capacity} seats")
        asyncio.run(seed_events(url, args.events))
        plugins = workdir / "plugins.toml"
        plugins.write_text(PLUGINS)
        env = {
            "BOXOFFICE_DATABASE_URL": url,
            "BOXOFFICE_DATA_DIR": str(workdir),
            "BOXOFFICE_PLUGINS_FILE": str(plugins),
            "BOXOFFICE_LOG_LEVEL": "WARNING",
            "BOXOFFICE_SECRET_KEY": "asgi-servers-benchmark-secret-key-0123456789",
        }
        print(
            f"{'server':<8} {'run':<22} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
            f"{'server CPU ms/req':>17} {'db CPU ms/req':>13} {'client CPU ms/req':>17}"
        )
        for server in args.servers:
            with serving(server, env) as (base, pids):
                wrk(base + "/api/v1/events", argparse.Namespace(duration=2, connections=50), {})
                for run_number in range(args.runs):
                    before, db_before = sum(map(cpu_seconds, pids)), postgres_cpu_seconds()
                    figures = wrk(base + "/api/v1/events", args, {})
                    used = sum(map(cpu_seconds, pids)) - before
                    per = 1000 / max(1, figures["requests"])
                    print(
                        f"{server:<8} {'GET /api/v1/events #' + str(run_number + 1):<22} "
                        f"{figures['rps']:>7.0f} {figures['p50']:>7.1f} {figures['p99']:>7.1f} "
                        f"{used * per:>17.3f} {(postgres_cpu_seconds() - db_before) * per:>13.3f} "
                        f"{figures['wrk_cpu'] * per:>17.3f}",
                        flush=True,
                    )
                for run_number in range(args.runs):
                    sale(server, base, pids, url, args, run_number)


def sale(
    server: str, base: str, pids: list[int], url: str, args: argparse.Namespace, number: int
) -> None:
    """One flash sale on a fresh event: ``demand`` buyers, 200 at a time, 2 client processes."""
    (event_id, ticket_id, _), _ = asyncio.run(seed_sale(url, args.capacity, f"-{server}{number}"))
    start_at = time.time() + 3.0
    began = time.perf_counter() + (start_at - time.time())
    jobs = [
        (
            [base],
            event_id,
            ticket_id,
            i * args.demand // 2 + number * 10**6,
            args.demand // 2,
            100,
            "checkout",
            start_at,
            "",
        )
        for i in range(2)
    ]
    before, db_before = sum(map(cpu_seconds, pids)), postgres_cpu_seconds()
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        batches = pool.map(_client_process, jobs)
    used = sum(map(cpu_seconds, pids)) - before
    db_used = postgres_cpu_seconds() - db_before
    results = [r for batch, _ in batches for r in batch]
    purchases = [r for r in results if r[0] == "purchase"]
    errors = [r for r in results if r[0].startswith("error")]
    ended = max(r[1] for r in purchases)
    rate = len(purchases) / max(1e-6, ended - began)
    p50 = statistics.median(r[2] for r in purchases)
    p99 = statistics.quantiles([r[2] for r in purchases], n=100)[98]
    per = 1000 / len(results)
    client = sum(cpu for _, cpu in batches)
    print(
        f"{server:<8} {'checkout sale #' + str(number + 1):<22} {rate:>7.0f} {p50:>7.0f} "
        f"{p99:>7.0f} {used * per:>17.3f} {db_used * per:>13.3f} {client * per:>17.3f}"
        + (f"  errors {len(errors)}" if errors else ""),
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--capacity", type=int, default=1000)
    parser.add_argument("--demand", type=int, default=2000)
    parser.add_argument("--servers", nargs="+", default=["uvicorn", "granian"])
    run(parser.parse_args())


if __name__ == "__main__":
    main()
