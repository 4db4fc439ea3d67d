"""Every bundled provider passes the conformance suite a third-party provider would run
(the region packs: tests/regions/)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from boxoffice.core.money import Money
from boxoffice.core.notify.channel import Message, NotificationChannel
from boxoffice.core.payments.gateway import PaymentRequest, PaymentStatus, RefundRequest
from boxoffice.core.search.backend import query_terms
from boxoffice.core.storage import Database
from boxoffice.providers.dbsearch import DbSearchBackend
from boxoffice.providers.localstore import LocalStore
from boxoffice.providers.log import LogChannel
from boxoffice.providers.offline import OfflineGateway, OfflineOptions
from boxoffice.testing import (
    MediaStoreConformance,
    NotificationChannelConformance,
    PaymentGatewayConformance,
    SearchBackendConformance,
)


class TestOfflineGateway(PaymentGatewayConformance):
    @pytest.fixture
    def gateway(self) -> OfflineGateway:
        return OfflineGateway()

    async def test_instructions_name_amount_and_reference(self) -> None:
        gateway = OfflineGateway(
            OfflineOptions(instructions="Send {amount} ref {reference}", currencies=["EUR"])
        )
        result = await gateway.create_payment(
            PaymentRequest(
                payment_id="p1",
                order_reference="BX-7Q2",
                amount=Money(2550, "EUR"),
                idempotency_key="k",
            )
        )
        assert result.status is PaymentStatus.PENDING
        assert result.instructions == "Send €25.50 ref BX-7Q2"
        assert gateway.currencies == frozenset({"EUR"})

    async def test_refunds_wait_for_a_person(self) -> None:
        result = await OfflineGateway().refund(
            RefundRequest(
                refund_id="r1",
                provider_reference="offline-p1",
                amount=Money(100, "EUR"),
                idempotency_key="k",
            )
        )
        assert (result.succeeded, result.pending) == (False, True)
        assert await OfflineGateway().fetch_status("offline-p1") is PaymentStatus.PENDING


class TestLogChannel(NotificationChannelConformance):
    @pytest.fixture
    def channel(self, tmp_path: Path) -> LogChannel:
        return LogChannel(tmp_path / "outbox")

    async def delivered(self, channel: NotificationChannel, message: Message) -> bool:
        assert isinstance(channel, LogChannel)
        path = channel.directory / f"{message.message_id}.json"
        if not path.exists():
            return False
        written = json.loads(path.read_text())
        return bool(
            (written["to"], written["subject"], written["text"])
            == (message.to, message.subject, message.text)
        )

    async def test_redelivery_overwrites_instead_of_duplicating(self, tmp_path: Path) -> None:
        channel = LogChannel(tmp_path)
        message = Message(message_id="m-1", kind="email", to="a@b.c", subject="s", text="t")
        await channel.send(message)
        await channel.send(message)
        assert [p.name for p in tmp_path.iterdir()] == ["m-1.json"]
        bad = await channel.send(
            Message(message_id="../..", kind="email", to="a", subject="", text="")
        )
        assert bad.permanent_failure


class TestDbSearch(SearchBackendConformance):
    """Runs on SQLite (FTS5) and PostgreSQL (tsvector) through the ``db`` fixture."""

    @pytest.fixture
    def backend(self, db: Database) -> DbSearchBackend:
        return DbSearchBackend(db)

    async def test_stemming_and_language(self, db: Database) -> None:
        backend = DbSearchBackend(db)
        from boxoffice.core.search.backend import SearchDocument

        await backend.index(
            [
                SearchDocument(kind="event", id="en", title="Running workshops", language="en"),
                SearchDocument(kind="event", id="de", title="Konzerte im Park", language="de"),
            ]
        )
        assert [h.id for h in await backend.search("event", "run workshop")] == ["en"]
        assert [h.id for h in await backend.search("event", "konzert", language="de")] == ["de"]


class TestLocalStore(MediaStoreConformance):
    @pytest.fixture
    def media_store(self, tmp_path: Path) -> LocalStore:
        return LocalStore(tmp_path / "media", "http://testserver")


def test_query_terms_keep_only_words() -> None:
    assert query_terms('Jazz "AND" (night)* -x') == ["jazz", "and", "night", "x"]
    assert query_terms("") == []
    assert len(query_terms("w " * 100)) == 16


async def test_very_common_terms_fall_back_to_recency(
    db: Database, db_engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past COMMON_MATCHES documents, SQLite skips BM25 and returns the newest matches."""
    from boxoffice.core.search.backend import SearchDocument
    from boxoffice.providers import dbsearch

    monkeypatch.setattr(dbsearch, "COMMON_MATCHES", 3)
    backend = DbSearchBackend(db)
    await backend.index(
        [SearchDocument(kind="event", id=f"e{i}", title=f"Jazz {i}") for i in range(5)]
    )
    await backend.index([SearchDocument(kind="event", id="rare", title="Harpsichord")])
    hits = [h.id for h in await backend.search("event", "jazz", limit=3)]
    if db_engine == "sqlite":
        assert hits == ["e4", "e3", "e2"]
    else:  # PostgreSQL ranks with ts_rank_cd whatever the count
        assert len(set(hits)) == 3
        assert set(hits) <= {f"e{i}" for i in range(5)}
    assert [h.id for h in await backend.search("event", "harpsichord")] == ["rare"]
