"""The OpenSearch backend passes the search conformance suite against a local fake of the
OpenSearch HTTP API (the real opensearch-py client talks to it over HTTP)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from boxoffice.core.clock import ManualClock
from boxoffice.core.search.backend import SearchDocument
from boxoffice.core.storage import Database, create_engine
from boxoffice.plugins.config import parse_config
from boxoffice.plugins.manager import load_plugins
from boxoffice.providers.opensearch import OpenSearchBackend, OpenSearchOptions
from boxoffice.testing import SearchBackendConformance
from tests.providers.opensearch_fake import FakeOpenSearch


@pytest.fixture
def fake() -> Iterator[FakeOpenSearch]:
    with FakeOpenSearch() as server:
        yield server


class TestOpenSearch(SearchBackendConformance):
    @pytest.fixture
    def backend(self, fake: FakeOpenSearch) -> OpenSearchBackend:
        return OpenSearchBackend(OpenSearchOptions(hosts=(fake.url,), index="bx-test"))

    async def test_the_index_is_created_once_and_writes_wait_for_refresh(
        self, backend: OpenSearchBackend, fake: FakeOpenSearch
    ) -> None:
        await backend.index([SearchDocument(kind="event", id="1", title="Tango")])
        await backend.index([SearchDocument(kind="event", id="2", title="Tango night")])
        assert fake.requests.count("PUT /bx-test") == 1
        assert [h.id for h in await backend.search("event", "tango night")] == ["2"]


async def test_a_cluster_that_is_down_is_reported_not_raised() -> None:
    backend = OpenSearchBackend(
        OpenSearchOptions(hosts=("http://127.0.0.1:9",), timeout_seconds=0.5)
    )
    health = await backend.health()
    assert health.state == "down"
    from boxoffice.core.errors import ProviderUnavailable

    with pytest.raises(ProviderUnavailable):
        await backend.search("event", "jazz")


def test_registered_only_when_configured(tmp_path: Path, fake: FakeOpenSearch) -> None:
    db = Database(create_engine(f"sqlite+aiosqlite:///{tmp_path}/never-opened.sqlite3"))
    plugins = load_plugins(
        parse_config(""), data_dir=tmp_path, clock=ManualClock(), database=db, environ={}
    )
    assert "opensearch" not in plugins.providers.search
    config = f'[search]\nbackend = "opensearch"\n\n[providers.opensearch]\nhosts = ["{fake.url}"]\n'
    plugins = load_plugins(
        parse_config(config), data_dir=tmp_path, clock=ManualClock(), database=db, environ={}
    )
    assert plugins.problems == []
    assert isinstance(plugins.providers.search["opensearch"], OpenSearchBackend)
