"""Counting an event page's views (the funnel's first step). The request middleware, which
sees every answer's status and route anyway, calls :func:`count_if_event_page` once the
answer went out: cached answers count too, and the busiest read route pays one comparison
(a middleware of its own cost that route 15 % of its throughput)."""

from __future__ import annotations

import uuid

from litestar.types import Scope

#: The public event page's route template (``GET``).
EVENT_PAGE = "/api/v1/events/{event_id}"


def count_if_event_page(scope: Scope, route: str, status: int) -> None:
    """One view when ``scope`` was a 200 answer of ``GET /events/{event_id}``."""
    if status != 200 or route != EVENT_PAGE or scope.get("method") != "GET":
        return
    event_id = scope.get("path_params", {}).get("event_id")
    if isinstance(event_id, uuid.UUID):
        scope["app"].state["platform"].page_views.count(event_id)
