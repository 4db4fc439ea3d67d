"""AWS Lambda entry points, for those who keep the serverless shape (docs/deploy.md).

``handler`` takes API Gateway HTTP API events (payload format 2.0) to the same ASGI app as
``boxoffice serve``, through Mangum. A Lambda container answers one request at a time and
is frozen between them, so it runs no background work: the app is built once per
container (at its first invocation, on Mangum's event loop, which lives as long as the
container), without the ASGI lifespan (Mangum would run it around every invocation, and
the lifespan closes the platform at its end), and each invocation ends by finishing what
the request left behind (page views, small writes). Deliveries, sweeps and reminders run
in ``worker_handler`` on a schedule, or in a ``boxoffice worker`` elsewhere.
"""

from __future__ import annotations

import asyncio
import functools
from typing import TYPE_CHECKING, Any

import msgspec

from boxoffice.settings import Settings

if TYPE_CHECKING:
    from mangum import Mangum

    from boxoffice.platform import Platform


@functools.cache
def _serving() -> tuple[Mangum, Platform]:
    from mangum import Mangum

    from boxoffice.api.app import create_app, prepare_to_serve
    from boxoffice.logs import configure_logging
    from boxoffice.platform import Platform

    settings = msgspec.structs.replace(Settings.from_env(), run_dispatcher=False)
    configure_logging(settings.log_level, settings.log_format)
    platform = Platform.build(settings)
    # Litestar is an ASGI app; its annotations are narrower than Mangum's protocol.
    app: Any = create_app(platform)
    adapter = Mangum(app, lifespan="off")  # sets the container's event loop
    asyncio.get_event_loop().run_until_complete(prepare_to_serve(platform))
    return adapter, platform


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """An API Gateway (HTTP API, payload 2.0) event in, its response out."""
    adapter, platform = _serving()
    try:
        response: dict[str, Any] = adapter(event, context)
    finally:
        asyncio.get_event_loop().run_until_complete(platform.settle())
    return response


def worker_handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    """A scheduled invocation (EventBridge, every minute): deliver the journal entries
    waiting, end lapsed holds and run housekeeping, as ``boxoffice worker --once`` does."""
    from boxoffice.core.maintenance import run_maintenance

    _, platform = _serving()

    async def once() -> int:
        await run_maintenance(platform.db, platform.clock, platform.router.enabled_regions())
        delivered: int = await platform.dispatcher.run_until_idle()
        await platform.webhooks.deliver_due()
        return delivered

    return {"delivered": asyncio.get_event_loop().run_until_complete(once())}
