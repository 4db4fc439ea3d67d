"""Structured JSON logs (structlog) with the request id bound and secrets redacted.

Every log line is one JSON object. The request id of the HTTP request being served (the
``X-Request-ID`` header, or a fresh one) is added to each line. Values under keys that name
secrets, and strings that look like credentials, are replaced by ``[redacted]``.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from contextvars import ContextVar
from typing import Any, TextIO

import structlog

REDACTED = "[redacted]"
_SECRET_KEY = re.compile(
    r"(pass(word)?|secret|token|api[_-]?key|authorization|cookie|signature|private|credential)",
    re.IGNORECASE,
)
_SECRET_VALUE = re.compile(
    r"(sk|rk|pk|whsec|rzp)_(live|test)_[0-9A-Za-z]+|Bearer\s+[A-Za-z0-9._~+/-]+=*|AKIA[0-9A-Z]{16}"
    r"|\$argon2(id|i|d)\$[A-Za-z0-9+/=$,]+"
    # What PostgreSQL puts in an error's DETAIL: the values of a row or a key.
    r"|(?<=Failing row contains \()[^\n]*(?=\))|(?<=\)=\()[^\n)]*(?=\))"
)

_request_id: ContextVar[str | None] = ContextVar("boxoffice_request_id", default=None)


def current_request_id() -> str | None:
    return _request_id.get()


def set_request_id(value: str | None) -> Any:
    """Bind the request id for this task; returns a token for :func:`reset_request_id`."""
    return _request_id.set(value)


def reset_request_id(token: Any) -> None:
    _request_id.reset(token)


def redact(value: Any, key: str = "") -> Any:
    """Return ``value`` with secrets replaced, looking into mappings and sequences."""
    if key and _SECRET_KEY.search(key):
        return REDACTED
    if isinstance(value, str):
        return _SECRET_VALUE.sub(REDACTED, value)
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact(v) for v in value)
    return value


def _redact_processor(_logger: Any, _name: str, event_dict: MutableMapping[str, Any]) -> Any:
    return {k: redact(v, k) for k, v in event_dict.items()}


def _add_request_id(_logger: Any, _name: str, event_dict: MutableMapping[str, Any]) -> Any:
    request_id = _request_id.get()
    if request_id is not None:
        event_dict.setdefault("request_id", request_id)
    return event_dict


def _add_trace_ids(_logger: Any, _name: str, event_dict: MutableMapping[str, Any]) -> Any:
    from boxoffice import tracing

    for key, value in tracing.log_ids().items():
        event_dict.setdefault(key, value)
    return event_dict


def configure_logging(level: str = "INFO", fmt: str = "json", stream: TextIO | None = None) -> None:
    """Route structlog and the standard library's logging to one JSON (or console) stream
    (standard error unless ``stream`` is given)."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_request_id,
        _add_trace_ids,
        structlog.processors.format_exc_info,
        _redact_processor,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        # Plain tracebacks: a rich one shows every frame's local variables (passwords).
        else structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    )
    structlog.configure(
        # Drop events below the level before any processor runs (every request logs one).
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "aiosqlite", "asyncio", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str) -> Any:
    return structlog.stdlib.get_logger(name)
