"""The organizer dashboard at ``/dashboard``: one server-rendered page (Jinja2), a small
script and a vendored chart library (uPlot, MIT), no build step. The page holds no data: it
signs in against the API and reads the analytics endpoints with the organizer's token, so it
needs no cookie session (and has no cross-site request forgery to defend against); live
figures come from ``…/analytics/live`` (server-sent events). Its Content-Security-Policy
allows scripts, styles and requests from this origin only."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Controller, Response, get
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

from boxoffice import __version__

ASSETS = "/dashboard/assets"
_HERE = Path(__file__).parent
#: What the page says (English; the API's own answers follow Accept-Language).
LABELS = {
    "sign_in": "Sign in",
    "sign_out": "Sign out",
    "sign_in_failed": "Signing in failed",
    "email": "E-mail",
    "password": "Password",
    "your_events": "Your events",
    "no_events": "No events yet.",
    "all_events": "← All events",
    "connecting": "Connecting…",
    "live": "Live",
    "reconnecting": "Reconnecting…",
    "tickets_sold": "Tickets sold",
    "of_capacity": "of {capacity}",
    "gross": "Gross",
    "net": "Net",
    "paid_orders": "Paid orders",
    "checked_in": "Checked in",
    "waiting": "Waiting list",
    "funnel": "From page view to payment",
    "views": "Page views",
    "holds": "Holds",
    "orders": "Orders",
    "paid": "Paid",
    "sales_per_hour": "Tickets sold per hour (event's time zone)",
}
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


@cache
def _templates() -> Environment:
    return Environment(
        loader=FileSystemLoader(_HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        auto_reload=False,
    )


def render_page() -> str:
    return (
        _templates()
        .get_template("dashboard.html")
        .render(
            title="boxoffice dashboard",
            language="en",
            assets=ASSETS,
            version=__version__,
            labels=LABELS,
            labels_json=json.dumps(LABELS),
        )
    )


class DashboardController(Controller):
    path = "/dashboard"
    include_in_schema = False

    @get("/", media_type="text/html; charset=utf-8")
    async def page(self) -> Response[str]:
        return Response(render_page(), headers=SECURITY_HEADERS)

    @get("/index.html")
    async def index(self) -> Redirect:
        return Redirect("/dashboard/")


def dashboard_assets() -> ControllerRouterHandler:
    return create_static_files_router(
        path=ASSETS,
        directories=[_HERE / "static" / "dashboard"],
        include_in_schema=False,
        opt={"static": True},
    )
