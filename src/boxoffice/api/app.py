"""The Litestar application factory."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from litestar import Litestar, Router
from litestar.config.compression import CompressionConfig
from litestar.datastructures import CacheControlHeader, State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin
from litestar.static_files import create_static_files_router

from boxoffice import __version__, metrics, tracing
from boxoffice.api.admin import AdminController
from boxoffice.api.analytics import (
    EventAnalyticsController,
    EventExportsController,
    PlatformAnalyticsController,
)
from boxoffice.api.auth import AUTH_DEPENDENCIES
from boxoffice.api.bodies import StrictRequest
from boxoffice.api.booking import BookingController, OrganizerOrdersController
from boxoffice.api.checkin import CheckinController
from boxoffice.api.dashboard import DashboardController, dashboard_assets
from boxoffice.api.deps import DEPENDENCIES, close_left_open
from boxoffice.api.draining import Drain
from boxoffice.api.events import CategoriesController, EventsController, MediaController
from boxoffice.api.health import HealthController
from boxoffice.api.identity import (
    AuthController,
    MeController,
    SignInWithController,
    UsersController,
)
from boxoffice.api.journal import JournalController
from boxoffice.api.metrics import MetricsController
from boxoffice.api.middleware import (
    SMALL_RESPONSE_KEY,
    reject_nul_middleware,
    request_id_middleware,
)
from boxoffice.api.notifications import (
    BroadcastsController,
    MessageLogController,
    UnsubscribeController,
)
from boxoffice.api.openapi import ProblemDocumentedJson
from boxoffice.api.organizations import OrganizationsController
from boxoffice.api.payments import PaymentsController
from boxoffice.api.problems import EXCEPTION_HANDLERS
from boxoffice.api.readcache import PublicReadCache
from boxoffice.api.tickets import TicketsController
from boxoffice.api.webhooks import WebhooksController
from boxoffice.core.identity import passwords
from boxoffice.logs import configure_logging, get_logger
from boxoffice.migrations import ensure_migrated
from boxoffice.platform import Platform, stop_background_work
from boxoffice.settings import Settings

API_PREFIX = "/api/v1"
DOCS_ASSETS = "/schema/assets"
log = get_logger(__name__)


def create_app(platform: Platform) -> Litestar:
    """The app for an assembled platform. The database must be migrated: the app refuses to
    start otherwise, naming the command that fixes it."""

    drain = Drain()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        drain.install(platform.settings.drain_seconds)
        await prepare_to_serve(platform)
        work = platform.api_process_work()
        if platform.settings.run_dispatcher:
            work += platform.background_work()
        tasks = [asyncio.create_task(w) for w in work]
        log.info(
            "started",
            database=platform.db.dialect,
            plugins=[p.name for p in platform.plugins.info if p.enabled],
        )
        try:
            yield
        finally:
            await stop_background_work(tasks)
            await platform.close()
            metrics.process_stopped()

    api = Router(
        path=API_PREFIX,
        route_handlers=[
            EventsController,
            AuthController,
            SignInWithController,
            MeController,
            UsersController,
            OrganizationsController,
            AdminController,
            JournalController,
            EventAnalyticsController,
            EventExportsController,
            WebhooksController,
            PlatformAnalyticsController,
            CategoriesController,
            BookingController,
            PaymentsController,
            OrganizerOrdersController,
            TicketsController,
            CheckinController,
            BroadcastsController,
            UnsubscribeController,
            MessageLogController,
        ],
    )
    plugins = []
    if tracing.enabled():
        plugins.append(
            OpenTelemetryPlugin(
                OpenTelemetryConfig(
                    tracer_provider=tracing.provider(),
                    exclude=["/metrics", "/health", "/dashboard/assets"],
                    exclude_spans=["receive", "send"],
                )
            )
        )
    return Litestar(
        plugins=plugins,
        route_handlers=[
            api,
            HealthController,
            MetricsController,
            DashboardController,
            dashboard_assets(),
            MediaController,
            create_static_files_router(
                path=DOCS_ASSETS,
                directories=[Path(__file__).parent / "static" / "swagger-ui"],
                cache_control=CacheControlHeader(max_age=86_400, public=True),
            ),
        ],
        state=State(
            {
                "platform": platform,
                "drain": drain,
                "read_cache": PublicReadCache(
                    platform.settings.read_cache_seconds,
                    # The platform's clock: a time that tests can move.
                    now=lambda: platform.clock.now().timestamp(),
                ),
            }
        ),
        request_class=StrictRequest,
        dependencies={**DEPENDENCIES, **AUTH_DEPENDENCIES},
        exception_handlers=EXCEPTION_HANDLERS,
        after_exception=[close_left_open],
        middleware=[request_id_middleware, reject_nul_middleware],
        logging_config=None,  # boxoffice.logs configures logging (structured JSON)
        lifespan=[lifespan],
        # Level 6 (zlib's default) instead of Litestar's 9: nearly the same size, much less CPU.
        # Below 4 KB (an order, a hold, an error) compressing saves a packet or two and costs
        # more CPU than the rest of the response; lists and pages are larger. The hot routes
        # skip the middleware altogether: for a client that accepts gzip it builds a gzip
        # stream for every response, small ones too (~0.12 ms of CPU a request).
        compression_config=CompressionConfig(
            backend="gzip",
            minimum_size=4096,
            gzip_compress_level=6,
            exclude_opt_key=SMALL_RESPONSE_KEY,
        ),
        openapi_config=OpenAPIConfig(
            title="boxoffice",
            version=__version__,
            description="Event management and ticketing. Errors are RFC 9457 problem+json.",
            path="/schema",
            # The docs page works offline: Swagger UI is served from the package (pinned,
            # api/static/swagger-ui/VERSION), not a CDN.
            render_plugins=[
                SwaggerRenderPlugin(
                    path=["/", "/swagger"],
                    js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
                    css_url=f"{DOCS_ASSETS}/swagger-ui.css",
                    standalone_preset_js_url=f"{DOCS_ASSETS}/swagger-ui-standalone-preset.js",
                ),
                ProblemDocumentedJson(),
            ],
        ),
    )


async def prepare_to_serve(platform: Platform) -> None:
    """What a process does once before its first request (here, or in the Lambda handler)."""
    await ensure_migrated(platform.db)
    await platform.db.optimize()
    # The sign-in timing equalizer's hash, made off the event loop before serving.
    await asyncio.to_thread(passwords.warm_up)
    # Everything loaded so far (modules, metadata, compiled statements) lives as long as
    # the process: move it out of the collector's sight, so that collections under load
    # only walk what requests allocate (a quarter of the CPU of a purchase otherwise).
    gc.collect()
    gc.freeze()


def create_app_from_env() -> Litestar:
    """For ``uvicorn --factory boxoffice.api.app:create_app_from_env`` and worker processes."""
    settings = Settings.from_env()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(Platform.build(settings))
