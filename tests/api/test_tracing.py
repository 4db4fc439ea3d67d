"""Traces on both engines: an HTTP request's trace holds its SQL statements, and the journal
entry it appended is delivered to each subscriber in that same trace (a projection's batch
links to it); log lines carry the trace's ids; with tracing off nothing is recorded."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import select

from boxoffice import tracing
from boxoffice.core.clock import ManualClock
from boxoffice.core.journal.models import JournalEntryRow
from boxoffice.logs import _add_trace_ids
from tests import factories
from tests.booking.helpers import Buyer, organizer_shop


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.start(exporter, batch=False)
    try:
        yield exporter
    finally:
        tracing.stop()


def trace_of(span: ReadableSpan) -> int:
    assert span.context is not None
    return span.context.trace_id


async def test_a_trace_joins_a_request_to_its_journal_dispatch(
    spans: InMemorySpanExporter,
    make_platform: factories.MakePlatform,
    make_client: Any,
    clock: ManualClock,
) -> None:
    platform = make_platform(config=factories.PLUGINS_TOML, entry_points=True)
    async with make_client(platform) as client:
        store, headers, base = await organizer_shop(client, platform, clock)
        order = await Buyer(client, store).buy(Standard=1)
        paid = await client.post(f"{base}/orders/{order['number']}/mark-paid", headers=headers)
        assert paid.status_code == 200
    requests = [
        s for s in spans.get_finished_spans() if s.kind == SpanKind.SERVER and "mark-paid" in s.name
    ]
    assert len(requests) == 1, [s.name for s in spans.get_finished_spans()]
    (request,) = requests
    in_request = [s for s in spans.get_finished_spans() if trace_of(s) == trace_of(request)]
    assert any(s.attributes and "db.statement" in s.attributes for s in in_request), "SQL"

    async with platform.db.read() as session:
        stored = await session.scalar(
            select(JournalEntryRow.trace_context).where(JournalEntryRow.type == "OrderConfirmed")
        )
    assert stored is not None
    assert f"{trace_of(request):032x}" in stored

    spans.clear()
    await platform.dispatcher.run_until_idle()
    delivered = spans.get_finished_spans()
    invoices = [s for s in delivered if s.name == "journal invoices"]
    assert invoices, [s.name for s in delivered]
    assert {trace_of(s) for s in invoices} == {trace_of(request)}, "the request's trace"
    (analytics,) = [s for s in delivered if s.name == "journal projection:analytics"]
    assert trace_of(request) in {link.context.trace_id for link in analytics.links}

    with tracing.span("checking the logs") as current:
        assert current is not None
        line = _add_trace_ids(None, "info", {"event": "x"})
        assert line["trace_id"] == f"{current.get_span_context().trace_id:032x}"


async def test_with_tracing_off_nothing_is_recorded(
    make_platform: factories.MakePlatform, make_client: Any, clock: ManualClock
) -> None:
    assert not tracing.enabled()
    platform = make_platform(config=factories.PLUGINS_TOML, entry_points=True)
    async with make_client(platform) as client:
        store, _, _ = await organizer_shop(client, platform, clock)
        await Buyer(client, store).buy(Standard=1)
    async with platform.db.read() as session:
        contexts = set(await session.scalars(select(JournalEntryRow.trace_context)))
    assert contexts == {None}
    assert tracing.log_ids() == {}
    with tracing.span("nothing") as nothing:
        assert nothing is None
