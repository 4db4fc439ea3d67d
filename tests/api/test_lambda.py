"""The AWS Lambda entry point on both engines: API Gateway HTTP API events (payload format
2.0, as API Gateway sends them: tests/api/apigateway/) go through Mangum to the same app,
one container serving several invocations on one platform."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from boxoffice.api import aws_lambda
from boxoffice.core.analytics.models import PageViews
from tests.servers import demo_environment

EVENTS = Path(__file__).parent / "apigateway"


def api_gateway_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return event


def body_of(response: dict[str, Any]) -> Any:
    body = response["body"]
    if response["isBase64Encoded"]:
        body = base64.b64decode(body)
    return json.loads(body)


@pytest.fixture
def container(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A Lambda container's environment (a new one: nothing cached from another test)."""
    for name, value in demo_environment(db_url, tmp_path / "data").items():
        monkeypatch.setenv(name, value)
    aws_lambda._serving.cache_clear()
    yield
    if aws_lambda._serving.cache_info().currsize:
        _, platform = aws_lambda._serving()
        asyncio.get_event_loop().run_until_complete(platform.close())
    aws_lambda._serving.cache_clear()


def test_an_api_gateway_event_lists_the_events_and_a_missing_one_is_a_problem(
    container: None,
) -> None:
    listed = aws_lambda.handler(api_gateway_event("events-list"), None)
    assert listed["statusCode"] == 200, listed
    assert listed["headers"]["content-type"].startswith("application/json")
    page = body_of(listed)
    assert [event["title"] for event in page["items"]], page
    assert len(page["items"]) <= 2, "the query string reached the app"
    assert "public" in listed["headers"]["cache-control"]

    missing = aws_lambda.handler(api_gateway_event("event-not-found"), None)
    assert missing["statusCode"] == 404
    assert missing["headers"]["content-type"] == "application/problem+json"
    problem = body_of(missing)
    assert problem["type"].endswith("/not-found")
    assert problem["status"] == 404
    assert problem["instance"] == "/api/v1/events/01a22eda-e88f-7fcc-a8f5-000000000000"


def test_a_body_signs_in_and_the_container_keeps_its_platform_between_invocations(
    container: None,
) -> None:
    signed_in = aws_lambda.handler(api_gateway_event("sign-in"), None)
    assert signed_in["statusCode"] == 200, signed_in
    assert body_of(signed_in)["access_token"]
    first = aws_lambda._serving()
    event = api_gateway_event("events-list")
    event_id = body_of(aws_lambda.handler(event, None))["items"][0]["id"]
    page = api_gateway_event("event-not-found")
    page["rawPath"] = page["requestContext"]["http"]["path"] = f"/api/v1/events/{event_id}"
    assert aws_lambda.handler(page, None)["statusCode"] == 200
    assert aws_lambda._serving() is first, "built once per container"

    async def views() -> int:
        from sqlalchemy import func, select

        async with first[1].db.read() as session:
            return int(await session.scalar(select(func.sum(PageViews.views))) or 0)

    # Nothing runs between invocations: the page view is written before the answer leaves.
    assert asyncio.get_event_loop().run_until_complete(views()) == 1
