"""How handlers get their session and their authorization (boxoffice.api.deps)."""

from __future__ import annotations

import asyncio
import inspect
import uuid
from typing import Any

import pytest
from litestar.handlers import HTTPRouteHandler

from boxoffice.api.app import create_app
from boxoffice.api.deps import PERMISSION
from boxoffice.core.identity.permissions import Permission
from boxoffice.platform import Platform
from tests import factories
from tests.identity.helpers import auth, organization, sign_up


@pytest.fixture
def platform(make_platform: factories.MakePlatform) -> Platform:
    return make_platform(config=factories.PLUGINS_TOML, entry_points=True)


def test_every_organizer_route_names_its_permission_and_is_authorized(
    platform: Platform,
) -> None:
    """A route under an organization must name a permission and ask for ``role``, ``event``,
    ``order`` or ``door`` (the scan routes' own): the dependencies that check it before the
    handler runs."""
    app = create_app(platform)
    checked = 0
    for route in app.routes:
        if "{org_id:uuid}" not in route.path:
            continue
        for handler in getattr(route, "route_handlers", []):
            assert isinstance(handler, HTTPRouteHandler)
            if handler.http_methods == {"OPTIONS"}:  # Litestar's own (CORS preflight)
                continue
            where = f"{sorted(handler.http_methods)} {route.path}"
            assert isinstance(handler.opt.get(PERMISSION), Permission), where
            asks = set(inspect.signature(handler.fn).parameters)
            assert asks & {"role", "event", "order", "admission"}, (
                f"{where} asks for no authorization"
            )
            checked += 1
    assert checked >= 35


async def test_a_request_refused_before_its_handler_leaves_no_transaction_open(
    platform: Platform, make_client: Any, clock: Any
) -> None:
    """A write refused by its authorization (here a 404: another organization's id) opened
    its transaction first; it must be closed at once, or on SQLite the next write would
    wait for the write lock."""
    async with make_client(platform) as client:
        owner = await sign_up(client, platform, "owner@example.org")
        org = await organization(client, owner, "lockless")
        for _ in range(3):
            refused = await client.post(
                f"/api/v1/organizations/{uuid.uuid4()}/events",
                headers=auth(owner),
                json=factories.event_body(clock),
            )
            assert refused.status_code == 404
        created = await asyncio.wait_for(
            client.post(
                f"/api/v1/organizations/{org['id']}/events",
                headers=auth(owner),
                json=factories.event_body(clock),
            ),
            timeout=10,
        )
        assert created.status_code == 201, created.text
