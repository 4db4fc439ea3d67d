"""``GET /metrics``: Prometheus's text format (see :mod:`boxoffice.metrics`). Set
``BOXOFFICE_METRICS_TOKEN`` to require ``Authorization: Bearer <token>`` (the business
totals are not for everyone); without it the endpoint is open, for a scraper on a private
network (docs/ops.md)."""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from prometheus_client.core import Metric

from boxoffice import metrics
from boxoffice.core.analytics import reports
from boxoffice.core.errors import Unauthorized
from boxoffice.core.journal import operations
from boxoffice.platform import Platform


class MetricsController(Controller):
    path = "/metrics"
    include_in_schema = False

    @get(cache_control=None, summary="Prometheus metrics")
    async def scrape(
        self, request: Request[Any, Any, Any], platform: NamedDependency[Platform]
    ) -> Response[bytes]:
        token = platform.settings.metrics_token
        if token:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                raise Unauthorized("/metrics needs Authorization: Bearer <metrics token>")
        families = await database_families(platform)
        return Response(
            metrics.exposition(families),
            media_type=metrics.CONTENT_TYPE,
            headers={"cache-control": "no-store"},
        )


async def database_families(platform: Platform) -> Iterable[Metric]:
    subscribers = await operations.subscribers(platform.db, platform.dispatcher)
    async with platform.db.read() as session:
        totals = await reports.business_totals(session)
    behind = metrics.gauge(
        "boxoffice_journal_behind_entries",
        "Journal entries appended after a subscriber's cursor",
        ["subscriber"],
    )
    dead = metrics.gauge(
        "boxoffice_journal_dead_letters",
        "Entries a subscriber gave up on, not yet retried",
        ["subscriber"],
    )
    retrying = metrics.gauge(
        "boxoffice_journal_retrying",
        "1 while a subscriber waits to retry a failed entry",
        ["subscriber"],
    )
    for s in subscribers:
        behind.add_metric([s.name], s.behind)
        dead.add_metric([s.name], s.dead_letters)
        retrying.add_metric([s.name], 1 if s.attempts else 0)
    orders = metrics.counter(
        "boxoffice_orders", "Orders since the platform began, by what happened", ["outcome"]
    )
    orders.add_metric(["placed"], totals.orders_placed)
    orders.add_metric(["paid"], totals.orders_paid)
    tickets = metrics.counter("boxoffice_tickets", "Tickets sold and refunded", ["outcome"])
    tickets.add_metric(["sold"], totals.tickets_sold)
    tickets.add_metric(["refunded"], totals.tickets_refunded)
    revenue = metrics.counter(
        "boxoffice_revenue_minor",
        "Money taken (gross) and given back, in the currency's minor units",
        ["currency", "kind"],
    )
    for currency, amount in sorted(totals.gross_minor.items()):
        revenue.add_metric([currency, "gross"], amount)
        revenue.add_metric([currency, "refunded"], totals.refunded_minor.get(currency, 0))
    checked_in = metrics.gauge(
        "boxoffice_tickets_checked_in", "Tickets scanned in (retention deletes old scans)"
    )
    checked_in.add_metric([], totals.tickets_checked_in)
    return [
        behind,
        dead,
        retrying,
        orders,
        tickets,
        revenue,
        checked_in,
        *await _replicas(platform),
    ]


async def _replicas(platform: Platform) -> list[Metric]:
    """Each read replica as the answering process sees it (every process checks the same
    replicas once a second, so any process's answer will do)."""
    members = await platform.db.replicas.check_all()
    if not members:
        return []
    lag = metrics.gauge(
        "boxoffice_replica_lag_seconds",
        "Seconds of replay a read replica is behind its primary (absent: it does not answer)",
        ["replica"],
    )
    fit = metrics.gauge(
        "boxoffice_replica_fit",
        "1 while anonymous reads go to the replica (it answers, within the lag bound), else 0",
        ["replica"],
    )
    for replica in members:
        if replica.lag is not None:
            lag.add_metric([replica.address], replica.lag)
        fit.add_metric([replica.address], 1 if replica.fit else 0)
    return [lag, fit]
