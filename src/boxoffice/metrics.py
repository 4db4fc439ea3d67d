"""Prometheus metrics (prometheus-client), served at ``/metrics``.

Two kinds, so that the figures are right however many server processes answer:

- **Per process, added up across processes**: HTTP requests (rate, latency, status per
  route template), database connections in use, circuit-breaker states. Under
  ``boxoffice serve --workers N`` the processes share a directory of counters
  (prometheus-client's multiprocess mode: ``PROMETHEUS_MULTIPROC_DIR``, set by ``serve``),
  and whichever process answers ``/metrics`` reads them all. A process that stops takes its
  gauges with it (``mark_process_dead``); its counters stay counted.
- **Read from the database at each scrape**: journal lag and dead letters per subscriber,
  and the business totals (orders, tickets, revenue by currency, from the analytics
  projection; tickets checked in). Every process reads the same database, so every
  process answers the same.

A request's route label is its template (``/api/v1/events/{event_id}``), never the
path itself: ids in paths would make a series per id. Unmatched paths count as
``(unmatched)``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST
UNMATCHED = "(unmatched)"

REQUESTS = Counter(
    "boxoffice_http_requests",
    "HTTP requests answered, by method, route template and status",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "boxoffice_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
DB_IN_USE = Gauge(
    "boxoffice_db_connections_in_use",
    "Pooled database connections checked out now (all processes)",
    multiprocess_mode="livesum",
)
BREAKER_OPEN = Gauge(
    "boxoffice_circuit_breaker_open",
    "1 while a provider's circuit breaker is open in any process, else 0",
    ["provider"],
    multiprocess_mode="livemax",
)

#: (method, route, status) -> the counter's child, (method, route) -> the histogram's: a
#: label lookup takes a lock; a request takes a dictionary read.
_counted: dict[tuple[str, str, str], Any] = {}
_timed: dict[tuple[str, str], Any] = {}


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    key = (method, route, str(status))
    counter = _counted.get(key)
    if counter is None:
        counter = _counted[key] = REQUESTS.labels(*key)
    counter.inc()
    timer = _timed.get(key[:2])
    if timer is None:
        timer = _timed[key[:2]] = LATENCY.labels(method, route)
    timer.observe(seconds)


def breaker_changed(provider: str, state: str) -> None:
    BREAKER_OPEN.labels(provider).set(1 if state == "opened" else 0)


def watch_pool(sync_engine: Any) -> None:
    """Count the engine's pooled connections in use (pool events: checkout and checkin)."""
    from sqlalchemy import event

    event.listen(sync_engine, "checkout", lambda *_: DB_IN_USE.inc())
    event.listen(sync_engine, "checkin", lambda *_: DB_IN_USE.dec())


def use_directory(directory: Path) -> None:
    """Multiprocess mode for the server processes about to start: an empty directory named
    in the environment they inherit (prometheus-client reads it when they import it)."""
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROCESS_ENV] = str(directory)


def process_stopped() -> None:
    if os.environ.get(MULTIPROCESS_ENV):
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


class _Snapshot(Collector):
    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self.families


def exposition(database_families: Iterable[Metric]) -> bytes:
    """The text a scrape gets: every process's counters, then the database's figures."""
    registry: CollectorRegistry = REGISTRY
    if os.environ.get(MULTIPROCESS_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    snapshot = CollectorRegistry()
    snapshot.register(_Snapshot(database_families))
    return generate_latest(registry) + generate_latest(snapshot)


def gauge(name: str, documentation: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=labels)


def counter(name: str, documentation: str, labels: list[str] | None = None) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, labels=labels)
