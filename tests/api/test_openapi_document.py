"""The OpenAPI document states the errors and the authentication, for client generators."""

from __future__ import annotations

from typing import Any

import pytest

from boxoffice.platform import Platform
from tests import factories

PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


@pytest.fixture
def platform(make_platform: factories.MakePlatform) -> Platform:
    return make_platform(config=factories.PLUGINS_TOML, entry_points=True)


async def test_problems_and_security_schemes_are_documented(
    platform: Platform, make_client: Any
) -> None:
    async with make_client(platform) as client:
        document = (await client.get("/schema/openapi.json")).json()
        again = (await client.get("/schema/openapi.json")).json()
    assert document == again
    components = document["components"]
    assert components["schemas"]["Problem"]["required"] == ["type", "title", "status"]
    assert set(components["securitySchemes"]) == {"accessToken", "apiKey"}
    paths = document["paths"]

    create_event = paths["/api/v1/organizations/{org_id}/events"]["post"]
    assert {"400", "401", "403", "404", "409", "422", "500", "503"} <= set(
        create_event["responses"]
    )
    assert create_event["responses"]["403"]["content"] == PROBLEM
    assert create_event["security"] == [{"accessToken": []}, {"apiKey": []}]

    listing = paths["/api/v1/events"]["get"]
    assert "security" not in listing, "public: no credentials"
    assert listing["responses"]["400"]["content"] == PROBLEM
    assert "401" not in listing["responses"]
    assert "429" in paths["/api/v1/auth/login"]["post"]["responses"]
    me = paths["/api/v1/me"]["get"]
    assert me["security"] == [{"accessToken": []}, {"apiKey": []}]
