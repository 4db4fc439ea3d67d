"""The HTTP API through real HTTP semantics (Litestar's test client), on both engines."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import quote

import pytest

from boxoffice.core.clock import ManualClock
from boxoffice.logs import configure_logging
from boxoffice.platform import Platform
from tests import factories

PROBLEM = "application/problem+json"


@pytest.fixture
def platform(make_platform: factories.MakePlatform) -> Platform:
    return make_platform(config=factories.PLUGINS_TOML, entry_points=True)


def assert_problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["type"] == f"https://boxoffice.dev/problems/{slug}"
    assert body["status"] == status
    assert body["title"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


async def test_published_events_list_detail_and_search(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    event = await factories.event(
        platform.db, clock, title="Harbour jazz night", timezone="Asia/Kolkata"
    )
    await factories.event(platform.db, clock, publish=False, title="Secret draft")
    await platform.dispatcher.run_until_idle()
    async with make_client(platform) as client:
        listed = await client.get("/api/v1/events")
        assert listed.status_code == 200
        assert [e["title"] for e in listed.json()["items"]] == ["Harbour jazz night"]
        detail = await client.get(f"/api/v1/events/{event.id}")
        assert detail.status_code == 200
        body = detail.json()
        assert body["timezone"] == "Asia/Kolkata"
        assert body["starts_at"].endswith("Z")
        assert body["starts_at_local"].endswith("+05:30")
        found = await client.get("/api/v1/events", params={"q": "jazz"})
        assert [e["id"] for e in found.json()["items"]] == [str(event.id)]
        posted = await client.post("/api/v1/events/search", json={"q": "harbour", "limit": 5})
        assert posted.status_code == 200
        assert [e["id"] for e in posted.json()["items"]] == [str(event.id)]


async def test_unknown_things_are_404_problems(platform: Platform, make_client: Any) -> None:
    async with make_client(platform) as client:
        assert_problem(await client.get("/api/v1/nope"), 404, "not-found")
        assert_problem(await client.get("/totally/unknown"), 404, "not-found")
        assert_problem(await client.get(f"/api/v1/events/{uuid.uuid4()}"), 404, "not-found")
        assert_problem(await client.get("/api/v1/events/not-a-uuid"), 404, "not-found")
        assert_problem(await client.delete("/api/v1/events/search"), 405, "method-not-allowed")


async def test_bad_input_is_a_4xx_problem_naming_the_field(
    platform: Platform, make_client: Any
) -> None:
    async with make_client(platform) as client:
        malformed = await client.post(
            "/api/v1/events/search",
            content=b'{"q": "jazz"',
            headers={"content-type": "application/json"},
        )
        body = assert_problem(malformed, 400, "malformed-request")
        assert body["errors"][0]["field"] == "body"
        wrong_type = await client.post("/api/v1/events/search", json={"limit": "many"})
        body = assert_problem(wrong_type, 400, "validation")
        assert any("limit" in e["field"] for e in body["errors"]), body
        unknown = await client.post("/api/v1/events/search", json={"colour": "red"})
        body = assert_problem(unknown, 400, "validation")
        assert "colour" in json.dumps(body["errors"])
        too_big = await client.get("/api/v1/events", params={"limit": "1000"})
        body = assert_problem(too_big, 400, "validation")
        assert any("limit" in e["field"] for e in body["errors"]), body
        cursor = await client.get("/api/v1/events", params={"cursor": "%%%"})
        body = assert_problem(cursor, 400, "validation")
        assert body["errors"] == [
            {"field": "cursor", "message": "pass next_cursor from a previous page unchanged"}
        ]


NASTY = [
    "",
    " ",
    "'",
    '"',
    "\\",
    "%00",
    "\x00",
    "é" * 500,
    "-1",
    "1e309",
    "NaN",
    "[]",
    "{}",
    "' OR 1=1 --",
    "*",
    "AND",
    "(",
    ")",
    "\u202e",
    "9" * 40,
    "null",
    "true",
]


@pytest.mark.parametrize("value", NASTY)
async def test_no_input_produces_a_500(platform: Platform, make_client: Any, value: str) -> None:
    async with make_client(platform) as client:
        for name in ("q", "limit", "cursor", "language"):
            response = await client.get("/api/v1/events", params={name: value})
            assert response.status_code < 500, (name, value, response.text)
        for body in (
            value.encode(),
            json.dumps({"q": value}).encode(),
            json.dumps({"limit": value}).encode(),
        ):
            response = await client.post(
                "/api/v1/events/search", content=body, headers={"content-type": "application/json"}
            )
            assert response.status_code < 500, (body, response.text)
        response = await client.get(f"/api/v1/events/{quote(value, safe='')}")
        assert response.status_code < 500


async def test_openapi_and_docs(platform: Platform, make_client: Any) -> None:
    async with make_client(platform) as client:
        schema = (await client.get("/schema/openapi.json")).json()
        assert schema["info"]["title"] == "boxoffice"
        assert "/api/v1/events" in schema["paths"]
        assert "/api/v1/events/search" in schema["paths"]
        docs = await client.get("/schema")
        assert docs.status_code == 200
        assert "text/html" in docs.headers["content-type"]


async def test_health(platform: Platform, make_client: Any) -> None:
    async with make_client(platform) as client:
        assert (await client.get("/health/live")).json() == {"status": "up"}
        ready = await client.get("/health/ready")
        assert ready.status_code == 200
        body = ready.json()
        assert body["status"] == "up"
        assert body["database"]["state"] == "up"
        assert set(body["providers"]) == {
            "payment:offline",
            "notification:log",
            "search:dbsearch",
            "media:localstore",
            "ticket_format:pdf",
        }


async def test_request_id_is_echoed_and_logged(
    platform: Platform, make_client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", "json")
    async with make_client(platform) as client:
        given = await client.get("/api/v1/events", headers={"x-request-id": "trace-123"})
        assert given.headers["x-request-id"] == "trace-123"
        made = await client.get("/api/v1/events", headers={"x-request-id": "bad id\nwith newline"})
        assert made.headers["x-request-id"] != "bad id\nwith newline"
        assert len(made.headers["x-request-id"]) == 32
    lines = [
        json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")
    ]
    access = [line for line in lines if line.get("event") == "request"]
    assert any(line["request_id"] == "trace-123" and line["status"] == 200 for line in access)


def test_a_lost_database_connection_is_a_503_to_retry_and_other_driver_errors_a_500() -> None:
    """Not an input's doing: a connection the database dropped (the pool replaces it) asks
    the client to retry; any other unexpected database error stays a logged 500."""
    from litestar import Litestar, get
    from litestar.testing import TestClient
    from sqlalchemy.exc import DBAPIError

    from boxoffice.api.problems import EXCEPTION_HANDLERS

    @get("/lost")
    async def lost() -> None:
        raise DBAPIError(
            "SELECT 1",
            None,
            ConnectionError("server closed the connection"),
            connection_invalidated=True,
        )

    @get("/broken")
    async def broken() -> None:
        raise DBAPIError("SELECT 1", None, RuntimeError("bad"))

    app = Litestar([lost, broken], exception_handlers=EXCEPTION_HANDLERS)
    with TestClient(app) as client:
        response = client.get("/lost")
        assert response.status_code == 503
        assert response.headers["content-type"].startswith(PROBLEM)
        assert response.headers["retry-after"] == "1"
        assert response.json()["type"].endswith("/database-unavailable")
        assert client.get("/broken").status_code == 500


async def test_a_database_that_accepts_but_never_answers_is_a_503_within_the_connect_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A PostgreSQL restarting can take a new connection and never answer it: the attempt
    gives up after the connect timeout (asyncpg's default is a minute, during which the
    request and its write slot are stuck) and the caller hears a 503 to retry."""
    import asyncio
    import time

    from litestar import Litestar, get
    from litestar.testing import AsyncTestClient

    from boxoffice.api.problems import EXCEPTION_HANDLERS
    from boxoffice.core.storage import create_engine, engine

    accepted: list[asyncio.StreamWriter] = []

    async def silent(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # kept open, never answered (the kernel's backlog does the same)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    monkeypatch.setattr(engine, "POSTGRES_CONNECT_TIMEOUT_SECONDS", 0.5)
    silent_database = create_engine(f"postgresql://nobody@127.0.0.1:{port}/nothing")

    @get("/reads")
    async def reads() -> None:
        async with silent_database.connect():
            pass

    app = Litestar([reads], exception_handlers=EXCEPTION_HANDLERS)
    try:
        async with AsyncTestClient(app) as client:
            started = time.monotonic()
            response = await client.get("/reads")
            waited = time.monotonic() - started
    finally:
        await silent_database.dispose()
        for writer in accepted:
            writer.close()
        server.close()
    assert response.status_code == 503, response.text
    assert response.json()["type"].endswith("/database-unavailable")
    assert 0.5 <= waited < 10, "gave up at the connect timeout, not refused nor a minute later"
