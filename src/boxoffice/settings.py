"""Process settings, read from the environment (``BOXOFFICE_*``).

Provider options and routing live in plugins.toml (see ``boxoffice.plugins.config``);
this is only what a process needs to start: where its data and database are, where it
listens, how it logs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import msgspec

from boxoffice.core.errors import ConfigurationError, FieldError
from boxoffice.core.storage import sqlite_url_for

PREFIX = "BOXOFFICE_"


def _decode_path(kind: type, value: object) -> object:
    if kind is Path and isinstance(value, str | Path):
        return Path(value)
    raise NotImplementedError


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    data_dir: Path = Path("data")
    #: ``sqlite:///path`` or ``postgresql://user@host/db``; empty means ``data_dir``'s SQLite file.
    database_url: str = ""
    #: PostgreSQL streaming replicas (comma-separated URLs) for anonymous public reads:
    #: the event list, event pages, ticket types, categories and search (docs/deploy.md).
    database_replica_urls: str = ""
    #: A replica further behind its primary than this (seconds of replay) is not read.
    replica_max_lag_seconds: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 1.0
    plugins_file: Path = Path("plugins.toml")
    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 8000
    log_level: str = "INFO"
    log_format: Annotated[str, msgspec.Meta(pattern="^(json|console)$")] = "json"
    #: Connections kept per process; 0 disables pooling (tests).
    db_pool_size: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 10
    db_max_overflow: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 10
    #: PostgreSQL: hot-path write transactions (holds, orders, checkouts) at once per process.
    #: More only queue on a hot quota row, each holding a pooled connection while it waits.
    db_write_slots: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 3
    #: Run the journal dispatcher (background deliveries) in this process.
    run_dispatcher: bool = True
    #: An idle dispatcher sleeps until a commit in this process or (PostgreSQL) a NOTIFY
    #: from another wakes it, and at most this many seconds: how late a delivery can be
    #: when a wake-up is missed (another process's commit on SQLite).
    journal_idle_seconds: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 30.0
    #: Where people reach the platform; links in e-mails start with it.
    public_url: str = ""
    #: Signs access tokens (HS256, 32+ characters). Empty: a key is generated once and kept
    #: in the data directory (fine for one machine; set it for several).
    secret_key: str = ""
    #: Older keys, comma-separated, still accepted while tokens signed with them expire.
    previous_secret_keys: str = ""
    #: "HS256" (shared secret) or "Ed25519" (key files below).
    jwt_algorithm: Annotated[str, msgspec.Meta(pattern="^(HS256|Ed25519)$")] = "HS256"
    #: Ed25519 private keys (PEM), comma-separated: the first signs, all verify.
    jwt_key_files: str = ""
    access_token_minutes: Annotated[int, msgspec.Meta(ge=1, le=1440)] = 15
    refresh_token_days: Annotated[int, msgspec.Meta(ge=1, le=365)] = 30
    #: What the platform keeps of each order's total, in basis points (250 = 2.5 %), shown in
    #: the order's breakdown and deducted from the organizer's payout (never added to it).
    platform_fee_basis_points: Annotated[int, msgspec.Meta(ge=0, le=10_000)] = 0
    #: Addresses of the reverse proxies whose ``X-Forwarded-For`` / ``X-Forwarded-Proto`` are
    #: believed, comma-separated (``*``: any). Rate limits and sign-in protection count
    #: per client address: behind a proxy on another host, name it here, or every client
    #: shares the proxy's address (and its limits).
    trusted_proxies: str = "127.0.0.1"
    #: Holds (and one-request checkouts) one client address may place per 10 minutes:
    #: a bot holding every seat with many holds ("seat spinning") is refused (429).
    holds_per_client: Annotated[int, msgspec.Meta(ge=1)] = 60
    #: Payment attempts per 10 minutes, per buyer e-mail and per client address (card
    #: testing).
    payment_attempts_per_buyer: Annotated[int, msgspec.Meta(ge=1)] = 10
    payment_attempts_per_client: Annotated[int, msgspec.Meta(ge=1)] = 30
    #: Keys (comma-separated, 32+ characters) that exempt a client from those limits when
    #: sent as the ``Boxoffice-Limit-Exempt`` header: a load test, a box-office terminal.
    limit_exempt_keys: str = ""
    #: ``serve --workers N``: seconds a worker process may take to start before the server
    #: gives up on it and starts another (uvicorn's own default, 5, restarted workers in a
    #: loop on a busy machine before they could finish starting).
    worker_start_timeout: Annotated[int, msgspec.Meta(ge=1, le=600)] = 60
    #: Seconds the requests in flight at SIGTERM may take to finish before they are
    #: cancelled (uvicorn waits for them, and for open connections to close, without a
    #: bound otherwise: a worker could wait forever on a connection that never closed).
    shutdown_timeout: Annotated[int, msgspec.Meta(ge=1, le=600)] = 5
    #: Seconds an API process keeps serving after SIGTERM with ``/health/ready`` answering
    #: 503 ``draining``, so that a load balancer stops sending it requests before it stops
    #: listening (set it to the balancer's health-check interval; docs/deploy.md).
    drain_seconds: Annotated[float, msgspec.Meta(ge=0, le=300)] = 0.0
    #: Seconds a public read (event list, event page, ticket types and availability,
    #: categories) is answered from this process's memory; a change made in another process
    #: shows within this time (an organizer's change in this one at once). 0: no cache.
    read_cache_seconds: Annotated[float, msgspec.Meta(ge=0, le=60)] = 1.0
    #: ``/metrics`` asks for ``Authorization: Bearer <token>`` when set (docs/ops.md).
    metrics_token: str = ""
    #: Development only: webhooks may go to plain HTTP and to private and loopback
    #: addresses (docs/webhooks.md).
    webhooks_allow_private: bool = False
    #: Traces: "" (off), "otlp" (to OTEL_EXPORTER_OTLP_ENDPOINT) or "console" (docs/ops.md).
    tracing: Annotated[str, msgspec.Meta(pattern="^(|otlp|console)$")] = ""
    #: The share of requests traced (a trace begun elsewhere keeps its own decision).
    tracing_sample_ratio: Annotated[float, msgspec.Meta(ge=0, le=1)] = 1.0

    @property
    def resolved_public_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or sqlite_url_for(self.data_dir.resolve())

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        environ = os.environ if environ is None else environ
        fields = set(cls.__struct_fields__)
        raw: dict[str, object] = {}
        for key, value in environ.items():
            if key.startswith(PREFIX) and key[len(PREFIX) :].lower() in fields:
                raw[key[len(PREFIX) :].lower()] = value
        raw.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return msgspec.convert(raw, cls, strict=False, dec_hook=_decode_path)
        except msgspec.ValidationError as error:
            message, _, path = str(error).partition(" - at `$.")
            variable = PREFIX + path.rstrip("`").upper() if path else "BOXOFFICE_*"
            raise ConfigurationError(
                f"invalid environment setting {variable}: {message}",
                errors=[FieldError(variable, message)],
            ) from error
