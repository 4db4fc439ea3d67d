"""The search backend conformance suite."""

from __future__ import annotations

import pytest

from boxoffice.core.search.backend import SearchBackend, SearchDocument, SearchHit
from boxoffice.testing.conformance.base import ConformanceSuite, check_health, check_id


class SearchBackendConformance(ConformanceSuite):
    """Every search backend passes these. Provide a ``backend`` fixture (built on the
    ``boxoffice_db`` fixture if it keeps its index in the platform database).

    It checks: title matches rank first, kinds are separate, prefixes match, indexing the
    same document again replaces it, removal (of absent documents too), ``limit``, and that
    no text is a syntax error.
    """

    def test_declares_what_it_is(self, backend: SearchBackend) -> None:
        assert isinstance(backend, SearchBackend), "does not satisfy the protocol"
        check_id(backend.id)

    async def test_health(self, backend: SearchBackend) -> None:
        await check_health(backend)

    async def test_index_search_replace_remove(self, backend: SearchBackend) -> None:
        await backend.index(
            [
                SearchDocument(
                    kind="event",
                    id="a",
                    title="Jazz night at the harbour",
                    body="Live quartet",
                    tags=("music",),
                ),
                SearchDocument(
                    kind="event",
                    id="b",
                    title="Chess tournament",
                    body="A night of jazz-free concentration",
                ),
                SearchDocument(kind="note", id="c", title="Jazz", body="other kind"),
            ]
        )
        hits = await backend.search("event", "jazz")
        assert all(isinstance(h, SearchHit) for h in hits)
        assert [h.id for h in hits][:2] == ["a", "b"], "title matches rank first"
        assert "c" not in [h.id for h in hits], "kinds are separate"
        assert [h.id for h in await backend.search("event", "harb")] == ["a"], "prefix match"
        assert [h.id for h in await backend.search("event", "chess")] == ["b"]
        await backend.index([SearchDocument(kind="event", id="a", title="Opera gala")])
        assert [h.id for h in await backend.search("event", "opera")] == ["a"]
        assert "a" not in [h.id for h in await backend.search("event", "harbour")]
        await backend.remove("event", ["a", "never-indexed"])
        assert await backend.search("event", "opera") == []
        assert [h.id for h in await backend.search("note", "jazz")] == ["c"]

    async def test_indexing_twice_keeps_one_copy_and_limit_holds(
        self, backend: SearchBackend
    ) -> None:
        documents = [
            SearchDocument(kind="event", id=f"d{i}", title=f"Harpsichord recital {i}")
            for i in range(5)
        ]
        await backend.index(documents)
        await backend.index(documents)
        hits = [h.id for h in await backend.search("event", "harpsichord")]
        assert sorted(hits) == [f"d{i}" for i in range(5)], "one hit per document"
        assert len(await backend.search("event", "harpsichord", limit=2)) == 2

    @pytest.mark.parametrize(
        "text", ['"', "AND OR NOT", "*", "a:b", "(((", "'; DROP TABLE x; --", "", "   ", "∑∂"]
    )
    async def test_any_text_is_a_valid_query(self, backend: SearchBackend, text: str) -> None:
        hits = await backend.search("event", text)
        assert isinstance(hits, list)
