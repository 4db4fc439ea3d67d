"""OpenTelemetry traces: off unless ``BOXOFFICE_TRACING`` says where they go (``otlp``:
OTLP over HTTP to ``OTEL_EXPORTER_OTLP_ENDPOINT``, the standard variable; ``console``: to
standard output, for development).

What a trace shows, when on:

- the HTTP request (Litestar's OpenTelemetry plugin, one server span per request);
- its SQL statements (the SQLAlchemy instrumentation on the engine);
- calls to providers (a span per gateway, channel or search call, under its breaker);
- the journal: an entry keeps the trace context of the request that appended it
  (``journal_entry.trace_context``, W3C ``traceparent``), and its delivery to each
  subscriber is a span in that same trace, however much later and in whichever worker
  process it happens; a projection's batch links to every entry it applied;
- outgoing webhook deliveries (a span per attempt).

The request id goes along as well: it is on every log line, in the journal entry, and in
the ``X-Request-ID`` header of the webhooks the entry causes. Log lines also carry
``trace_id`` and ``span_id`` while a span is active.

When off, nothing is instrumented and each hook on the hot path is one module-global check.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Link, Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

SERVICE_NAME = "boxoffice"
#: At most this many links on a batch's span (a projection's round can apply hundreds).
MAX_LINKS = 32

_propagator = TraceContextTextMapPropagator()
_provider: TracerProvider | None = None
_tracer: trace.Tracer | None = None


def enabled() -> bool:
    return _tracer is not None


def start(
    exporter: SpanExporter, *, sample_ratio: float = 1.0, batch: bool = True
) -> TracerProvider:
    """Turn tracing on in this process, sending spans to ``exporter``."""
    global _provider, _tracer
    provider = TracerProvider(
        resource=Resource.create({"service.name": SERVICE_NAME}),
        sampler=ParentBased(TraceIdRatioBased(sample_ratio)),
    )
    processor = BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    _provider, _tracer = provider, provider.get_tracer("boxoffice")
    return provider


def start_from_settings(kind: str, sample_ratio: float) -> None:
    """``BOXOFFICE_TRACING``: "" (off), "otlp" or "console"."""
    if not kind or enabled():
        return
    exporter: SpanExporter
    if kind == "console":
        exporter = ConsoleSpanExporter()
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    start(exporter, sample_ratio=sample_ratio)


def stop() -> None:
    """Flush and turn tracing off (process shutdown, tests)."""
    global _provider, _tracer
    if _provider is not None:
        _provider.shutdown()
    _provider, _tracer = None, None


def provider() -> TracerProvider | None:
    return _provider


def instrument_engine(sync_engine: Any) -> None:
    """Spans for the engine's SQL statements (when tracing is on)."""
    if _tracer is None:
        return
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.metrics import NoOpMeter

    # It also counts pool connections, on a meter: ours are Prometheus's (boxoffice.metrics).
    usage = NoOpMeter(SERVICE_NAME).create_up_down_counter("db.client.connections.usage")
    EngineTracer(_tracer, sync_engine, usage)  # type: ignore[no-untyped-call]


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the active span, to store beside what it caused."""
    if _tracer is None:
        return None
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get("traceparent")


def _context_of(traceparent: str | None) -> Any:
    return None if not traceparent else _propagator.extract({"traceparent": traceparent})


@contextlib.contextmanager
def span(
    name: str,
    *,
    parent: str | None = None,
    links_to: Sequence[str | None] = (),
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: dict[str, Any] | None = None,
) -> Iterator[Span | None]:
    """A span named ``name`` (nothing when tracing is off). ``parent`` is a stored
    ``traceparent`` to continue (a journal entry's); ``links_to`` are others to link."""
    if _tracer is None:
        yield None
        return
    links = []
    for traceparent in [t for t in links_to if t][:MAX_LINKS]:
        linked = trace.get_current_span(_context_of(traceparent)).get_span_context()
        if linked.is_valid:
            links.append(Link(linked))
    with _tracer.start_as_current_span(
        name,
        context=_context_of(parent),
        kind=kind,
        links=links,
        attributes=attributes,
    ) as current:
        yield current


def log_ids() -> dict[str, str]:
    """``trace_id`` and ``span_id`` of the active span, for log lines."""
    if _tracer is None:
        return {}
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}
