"""The API docs page works offline: its assets come from the package, not a CDN."""

from __future__ import annotations

import re
from typing import Any

import pytest

from boxoffice.platform import Platform
from tests import factories


@pytest.fixture
def platform(make_platform: factories.MakePlatform) -> Platform:
    return make_platform(config=factories.PLUGINS_TOML, entry_points=True)


async def test_the_docs_page_loads_only_local_assets(platform: Platform, make_client: Any) -> None:
    async with make_client(platform) as client:
        page = await client.get("/schema")
        assert page.status_code == 200, page.text
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert assets, page.text[:500]
        assert all(url.startswith("/schema/") for url in assets), assets
        for url in assets:
            served = await client.get(url)
            assert served.status_code == 200, url
            assert len(served.content) > 1000, url
        assert (await client.get("/schema/openapi.json")).status_code == 200
