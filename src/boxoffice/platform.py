"""Assembles a running platform from settings: database, plugins, routing, journal."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from boxoffice import metrics, tracing
from boxoffice.core.analytics.live import LiveSummaries
from boxoffice.core.analytics.projection import ANALYTICS
from boxoffice.core.analytics.views import PageViewCounter
from boxoffice.core.background import keep_running
from boxoffice.core.booking.notices import remind_forever
from boxoffice.core.booking.subscribers import event_subscriber
from boxoffice.core.booking.sweeper import sweep_forever
from boxoffice.core.booking.waitlist import offer_mail_subscriber
from boxoffice.core.catalog.indexing import event_index_subscriber
from boxoffice.core.clock import Clock, SystemClock
from boxoffice.core.compliance.region import ComplianceRegion
from boxoffice.core.errors import ConfigurationError, FieldError, ProviderUnavailable
from boxoffice.core.identity.accounts import AuthPolicy
from boxoffice.core.identity.keys import platform_keys, signer_from
from boxoffice.core.invoices.subscriber import invoices_subscriber
from boxoffice.core.journal.dispatcher import Dispatcher, DispatcherSettings, Subscriber
from boxoffice.core.journal.entries import RecordedEntry
from boxoffice.core.journal.projections import Projection, projection_subscriber
from boxoffice.core.links import LinkSecrets
from boxoffice.core.maintenance import maintain_forever
from boxoffice.core.media.store import MediaStore
from boxoffice.core.notify.service import Notifier
from boxoffice.core.payments.engine import PaymentEngine
from boxoffice.core.privacy.exports import data_exports_subscriber
from boxoffice.core.resilience import ProviderCalls
from boxoffice.core.storage import Database, create_engine, normalize_url
from boxoffice.core.tickets.credentials import TicketKeys
from boxoffice.core.tickets.formats import TicketFormat
from boxoffice.core.tickets.messages import OrderMessages
from boxoffice.core.webhooks.delivery import WebhookSender, fanout_subscriber
from boxoffice.logs import get_logger
from boxoffice.plugins.config import ConfigFileError, load_config
from boxoffice.plugins.manager import PluginSet, load_plugins
from boxoffice.plugins.routing import Router
from boxoffice.settings import Settings

log = get_logger(__name__)


class Platform:
    def __init__(self, settings: Settings, clock: Clock, db: Database, plugins: PluginSet) -> None:
        self.settings = settings
        self.clock = clock
        self.db = db
        self.plugins = plugins
        self.router = Router(plugins.loaded.config, plugins.providers)
        keys = platform_keys(
            secret_key=settings.secret_key,
            previous=settings.previous_secret_keys,
            data_dir=Path(settings.data_dir).resolve(),
        )
        self.signer = signer_from(
            algorithm=settings.jwt_algorithm, keys=keys, key_files=settings.jwt_key_files
        )
        #: Derives the secrets in buyers' links (order, hold, waiting-list entry).
        self.links = LinkSecrets(keys)
        #: Signs the credentials tickets carry (their QR codes), a key per event.
        self.ticket_keys = TicketKeys(keys)
        router = self.router
        #: Timeouts, retries and a circuit breaker per provider.
        self.calls = calls = ProviderCalls()
        calls.on_change(metrics.breaker_changed)
        metrics.watch_pool(db.engine.sync_engine)
        tracing.start_from_settings(settings.tracing, settings.tracing_sample_ratio)
        tracing.instrument_engine(db.engine.sync_engine)
        #: Payments: starting them, the gateways' word, refunds, reconciliation.
        self.payments = PaymentEngine(
            db,
            clock,
            gateway=router.providers.payment.get,
            gateways_for=lambda region, currency, country: router.payment_gateways(
                region=region, currency=currency, country=country, available=calls.available
            ),
            public_url=settings.resolved_public_url,
            links=self.links,
            calls=calls,
            risk=lambda attempt: plugins.hook.assess_payment_risk(attempt=attempt),
        )
        self.limit_exempt_keys = _exempt_keys(settings.limit_exempt_keys)
        order_messages = OrderMessages(
            db,
            clock,
            links=self.links,
            ticket_keys=self.ticket_keys,
            public_url=settings.resolved_public_url,
            ticket_format=self.attached_ticket_format,
        )
        #: Renders and delivers the outbox; retries what failed for now.
        self.notifier = Notifier(
            db,
            clock,
            lambda kind, region: router.notification_channels(
                kind=kind, region=region, available=calls.available
            ),
            links=self.links,
            public_url=settings.resolved_public_url,
            makers=order_messages.makers(),
            calls=calls,
        )
        self.webhooks = WebhookSender(
            db, clock, self.links, allow_private=settings.webhooks_allow_private
        )
        self.dispatcher = Dispatcher(
            db,
            clock,
            [
                self.notifier.subscriber(),
                *_subscribers(db, clock, plugins, router, settings.resolved_public_url, self.links),
                self.payments.refund_subscriber(),
                self.payments.money_back_subscriber(),
                fanout_subscriber(db, clock, self.webhooks.wake),
            ],
            DispatcherSettings(idle_interval=settings.journal_idle_seconds),
        )
        # An API process beside a `boxoffice worker` wakes the worker's dispatcher (SQLite
        # cannot: one process per file is its supported shape, see docs/ops.md).
        self.dispatcher.notifies_others = not settings.run_dispatcher and db.dialect == "postgresql"
        self.page_views = PageViewCounter(clock)
        self.live_summaries = LiveSummaries(db)
        #: Small writes that follow a request but must not wait inside it (see run_soon).
        self._soon: set[asyncio.Task[None]] = set()
        self.auth_policy = AuthPolicy(
            public_url=settings.resolved_public_url,
            access_ttl=timedelta(minutes=settings.access_token_minutes),
            refresh_ttl=timedelta(days=settings.refresh_token_days),
        )

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        clock: Clock | None = None,
        extra_plugins: Sequence[tuple[str, object]] = (),
        use_entry_points: bool = True,
        environ: Mapping[str, str] | None = None,
        strict: bool = True,
    ) -> Platform:
        """Build the platform; with ``strict``, any configuration problem is raised."""
        clock = clock or SystemClock()

        def engine(url: str) -> AsyncEngine:
            return create_engine(
                url, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow
            )

        db = Database(
            engine(settings.resolved_database_url),
            write_slots=settings.db_write_slots,
            replicas=[engine(url) for url in _replica_urls(settings)],
            replica_max_lag=settings.replica_max_lag_seconds,
        )
        plugins = load_plugin_set(
            settings,
            clock,
            database=db,
            extra_plugins=extra_plugins,
            use_entry_points=use_entry_points,
            environ=environ,
        )
        if strict and plugins.problems:
            raise configuration_error(plugins)
        return cls(settings, clock, db, plugins)

    @property
    def media_store(self) -> MediaStore | None:
        try:
            return self.router.media_store()
        except ProviderUnavailable:
            return None

    def attached_ticket_format(self) -> TicketFormat | None:
        """The format tickets are attached to confirmation e-mails in: ``pdf`` when it is
        installed, else the first format there is (``None``: the e-mail links to them)."""
        formats = self.plugins.providers.ticket_format
        return formats.get("pdf") or next(iter(formats.values()), None)

    def region_or_none(self, region_id: str) -> ComplianceRegion | None:
        """The enabled region pack ``region_id`` (tax, compliance), or ``None``."""
        return self.router.region_or_none(region_id)

    def background_work(self) -> list[Coroutine[Any, Any, None]]:
        """What runs beside the API (or in ``boxoffice worker``): the journal dispatcher, the
        booking sweeper (lapsed holds and unpaid orders), housekeeping, the reconciliation
        of payments nobody heard of for a while, the retries of messages, the day-before
        reminders and the outgoing webhooks."""
        regions = self.router.enabled_regions()
        loops: dict[str, Callable[[], Awaitable[None]]] = {
            "journal": self.dispatcher.run_forever,
            "sweeper": lambda: sweep_forever(self.db, self.clock),
            "maintenance": lambda: maintain_forever(self.db, self.clock, regions),
            "reconciliation": self.payments.reconcile_forever,
            "message-retries": self.notifier.retry_forever,
            "reminders": lambda: remind_forever(self.db, self.clock),
            "webhooks": self.webhooks.run_forever,
        }
        return [keep_running(loop, name) for name, loop in loops.items()]

    def api_process_work(self) -> list[Coroutine[Any, Any, None]]:
        """What runs in every API process, with or without a worker beside it: adding the
        page views it counted."""
        return [keep_running(lambda: self.page_views.flush_forever(self.db), "page-views")]

    async def run_background_work(self, stop: asyncio.Event) -> None:
        """``boxoffice worker``: the background work until ``stop`` is set (SIGTERM), then
        stopped within a bound (:func:`stop_background_work`)."""
        tasks = [asyncio.create_task(work) for work in self.background_work()]
        try:
            await stop.wait()
        finally:
            await stop_background_work(tasks)

    def run_soon(self, work: Coroutine[Any, Any, None], what: str) -> None:
        """Run ``work`` beside the current request, not inside it: for a write the request
        does not need done before it answers (an API key's last use), and which must not
        wait for the write slot the request itself may hold (SQLite has one)."""
        task = asyncio.get_running_loop().create_task(work, name=what)
        self._soon.add(task)
        task.add_done_callback(self._ran)

    def _ran(self, task: asyncio.Task[None]) -> None:
        self._soon.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("run_soon.failed", task=task.get_name(), exc_info=task.exception())

    async def settle(self) -> None:
        """Finish what requests left behind them: the writes run beside them and the page
        views counted. At shutdown, and after each invocation where nothing runs between
        requests (AWS Lambda freezes the process)."""
        if self._soon:
            await asyncio.wait(list(self._soon), timeout=STOP_TIMEOUT_SECONDS)
        try:
            await self.page_views.flush(self.db)
        except Exception:  # counts only: shutting down must go on
            log.exception("analytics.page_views_lost")

    async def close(self) -> None:
        await self.settle()
        await self.db.close()


def _replica_urls(settings: Settings) -> list[str]:
    urls = [url.strip() for url in settings.database_replica_urls.split(",") if url.strip()]
    if urls and normalize_url(settings.resolved_database_url).get_backend_name() != "postgresql":
        raise ConfigurationError(
            "BOXOFFICE_DATABASE_REPLICA_URLS: read replicas need PostgreSQL (its streaming "
            "replicas); SQLite serves its reads itself",
            errors=[FieldError("database_replica_urls", "only with a PostgreSQL database")],
        )
    return urls


def _exempt_keys(listed: str) -> list[str]:
    keys = [key.strip() for key in listed.split(",") if key.strip()]
    if any(len(key) < 32 for key in keys):
        raise ConfigurationError(
            "BOXOFFICE_LIMIT_EXEMPT_KEYS: each key needs 32 characters or more",
            errors=[FieldError("limit_exempt_keys", "at least 32 characters each")],
        )
    return keys


#: How long background work may take to stop at shutdown before it is abandoned.
STOP_TIMEOUT_SECONDS = 10.0


async def stop_background_work(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel every background task and wait for all of them together, within a bound, so
    that none still runs when the connection pool closes, and shutdown always ends: a task
    that ignores its cancellation is logged and left behind."""
    for task in tasks:
        task.cancel()
    if not tasks:
        return
    done, pending = await asyncio.wait(tasks, timeout=STOP_TIMEOUT_SECONDS)
    for task in done:
        if not task.cancelled() and task.exception() is not None:
            log.error("background_work.failed", exc_info=task.exception())
    if pending:
        log.error("background_work.did_not_stop", tasks=[t.get_name() for t in pending])


def load_plugin_set(
    settings: Settings,
    clock: Clock,
    *,
    database: Database,
    extra_plugins: Sequence[tuple[str, object]] = (),
    use_entry_points: bool = True,
    environ: Mapping[str, str] | None = None,
    file_required: bool = False,
) -> PluginSet:
    """Read plugins.toml and load the plugins; problems are collected, not raised. A missing
    file is an empty configuration, unless ``file_required`` (``plugins check``)."""
    try:
        loaded = load_config(Path(settings.plugins_file), required=file_required)
    except ConfigFileError as error:
        raise ConfigurationError(
            "plugins.toml is not valid:\n" + "\n".join(f"  {p}" for p in error.problems),
            errors=[FieldError(p.key or "plugins.toml", str(p)) for p in error.problems],
        ) from error
    data_dir = Path(settings.data_dir).resolve()
    return load_plugins(
        loaded,
        data_dir=data_dir,
        clock=clock,
        database=database,
        extra_plugins=extra_plugins,
        use_entry_points=use_entry_points,
        environ=environ,
        public_url=settings.resolved_public_url,
    )


def configuration_error(plugins: PluginSet) -> ConfigurationError:
    return ConfigurationError(
        "the plugin configuration has problems:\n"
        + "\n".join(f"  {p}" for p in plugins.problems)
        + "\nRun `boxoffice plugins check` after fixing them.",
        errors=[FieldError(p.key or "plugins.toml", str(p)) for p in plugins.problems],
    )


#: The journal's projections (rebuilt by ``boxoffice journal replay NAME``).
PROJECTIONS: tuple[Projection, ...] = (ANALYTICS,)


def _subscribers(
    db: Database,
    clock: Clock,
    plugins: PluginSet,
    router: Router,
    public_url: str,
    links: LinkSecrets,
) -> list[Subscriber]:
    subscribers: list[Subscriber] = [
        event_subscriber(db, clock),
        offer_mail_subscriber(db, clock, public_url, links),
        invoices_subscriber(db, clock, router.region_or_none),
        data_exports_subscriber(db, clock),
        *(projection_subscriber(db, projection) for projection in PROJECTIONS),
    ]
    backend = router.search_backend()
    if backend is not None:
        subscribers.append(event_index_subscriber(db, backend))
    for plugin_name, function in plugins.journal_hook_callers():
        subscribers.append(
            Subscriber(
                name=f"plugin:{plugin_name}", handler=_plugin_handler(function), start_at_end=True
            )
        )
    return subscribers


def _plugin_handler(function: Callable[..., Any]) -> Callable[[RecordedEntry], Any]:
    async def handle(entry: RecordedEntry) -> None:
        result = function(entry=entry)
        if inspect.isawaitable(result):
            await result

    return handle
