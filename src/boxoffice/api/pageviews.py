"""Counting an event page's views (the funnel's first step) on the way out, before the
public read cache answers, so cached answers count too."""

from __future__ import annotations

import uuid

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from boxoffice.platform import Platform


def counting_page_views(app: ASGIApp) -> ASGIApp:
    """Middleware of ``GET /events/{event_id}``: a 200 answer counts one view."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        event_id = scope.get("path_params", {}).get("event_id")
        if scope.get("method") != "GET" or not isinstance(event_id, uuid.UUID):
            await app(scope, receive, send)
            return

        async def counting(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 200:
                platform: Platform = scope["app"].state["platform"]
                platform.page_views.count(event_id)
            await send(message)

        await app(scope, receive, counting)

    return middleware
