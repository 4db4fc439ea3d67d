"""``/metrics`` on both engines: a request is counted under its route template, the journal's
lag and the business totals are read from the database, a token guards it when set, and
several processes add up their counters (prometheus-client's multiprocess mode)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import msgspec
import pytest

from boxoffice.core.clock import ManualClock
from boxoffice.platform import Platform
from tests import factories
from tests.booking.helpers import Buyer, organizer_shop

EVENT_ROUTE = "/api/v1/events/{event_id}"


@pytest.fixture
def platform(make_platform: factories.MakePlatform) -> Platform:
    return make_platform(config=factories.PLUGINS_TOML, entry_points=True)


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one series in Prometheus's text format (0 if absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        match = re.fullmatch(r"([a-z_]+)(?:\{(.*)\})? (\S+)", line)
        if match and match[1] == name:
            found = ",".join(sorted((match[2] or "").split(","))) if match[2] else ""
            if found == wanted:
                return float(match[3])
    return 0.0


async def test_metrics_count_a_request_and_read_the_business_from_the_database(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        store, headers, base = await organizer_shop(client, platform, clock)
        before = (await client.get("/metrics")).text
        assert (await client.get(f"/api/v1/events/{store.event.id}")).status_code == 200
        after = await client.get("/metrics")
        assert after.status_code == 200
        assert after.headers["content-type"].startswith("text/plain")
        labels = {"method": "GET", "route": EVENT_ROUTE, "status": "200"}
        counted = sample(after.text, "boxoffice_http_requests_total", **labels)
        assert counted == sample(before, "boxoffice_http_requests_total", **labels) + 1
        assert (
            sample(
                after.text,
                "boxoffice_http_request_duration_seconds_count",
                method="GET",
                route=EVENT_ROUTE,
            )
            >= 1
        )
        assert "/api/v1/events/" + str(store.event.id) not in after.text, "templates, not ids"

        order = await Buyer(client, store).buy(Standard=2)
        await client.post(f"{base}/orders/{order['number']}/mark-paid", headers=headers)
        lagging = (await client.get("/metrics")).text
        assert (
            sample(lagging, "boxoffice_journal_behind_entries", subscriber="projection:analytics")
            > 0
        )
        await platform.dispatcher.run_until_idle()
        text = (await client.get("/metrics")).text
        assert (
            sample(text, "boxoffice_journal_behind_entries", subscriber="projection:analytics") == 0
        )
        assert sample(text, "boxoffice_orders_total", outcome="paid") == 1
        assert sample(text, "boxoffice_tickets_total", outcome="sold") == 2
        assert sample(text, "boxoffice_revenue_minor_total", currency="EUR", kind="gross") == 5000
        assert sample(text, "boxoffice_journal_dead_letters", subscriber="invoices") == 0

        platform.settings = msgspec.structs.replace(platform.settings, metrics_token="t" * 32)
        refused = await client.get("/metrics")
        assert refused.status_code == 401
        assert refused.headers["content-type"].startswith("application/problem+json")
        wrong = await client.get("/metrics", headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 401
        allowed = await client.get("/metrics", headers={"authorization": f"Bearer {'t' * 32}"})
        assert allowed.status_code == 200


def test_several_processes_add_up(tmp_path: Path) -> None:
    directory = tmp_path / "metrics"
    environment = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    count_one = textwrap.dedent(
        """
        from boxoffice import metrics
        metrics.observe_request("GET", "/api/v1/events", 200, 0.01)
        """
    )
    from boxoffice import metrics

    metrics.use_directory(directory)
    try:
        for _ in range(3):  # three server processes, one request each
            subprocess.run([sys.executable, "-c", count_one], env=environment, check=True)
        scrape = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from boxoffice import metrics; "
                "sys.stdout.write(metrics.exposition([]).decode())",
            ],
            env=environment,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    labels = {"method": "GET", "route": "/api/v1/events", "status": "200"}
    assert sample(scrape, "boxoffice_http_requests_total", **labels) == 3
