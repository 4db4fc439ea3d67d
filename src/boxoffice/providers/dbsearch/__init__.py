"""The ``dbsearch`` backend: full-text search in the platform database itself.

SQLite uses an FTS5 table (porter stemming, BM25 ranking with the title weighted highest);
PostgreSQL a ``tsvector`` column with a GIN index, stemmed in the document's language, ranked
with ``ts_rank_cd``. Both tables are created by the platform's migrations. The user's text is
reduced to plain words before it reaches either query language, so no input can make the
query fail; the last word matches as a prefix (search as you type).

This provider is the one exception to "a provider never touches the database": its job is
the database index, so it is handed the platform :class:`~boxoffice.core.storage.Database`.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
from sqlalchemy import text as sql

from boxoffice.core.hookspecs import PluginContext, hookimpl
from boxoffice.core.providers import HealthState, ProviderHealth
from boxoffice.core.search.backend import SearchDocument, SearchHit, query_terms
from boxoffice.core.storage import Database

#: A query matching this many documents is ranked by recency instead of BM25 (SQLite).
COMMON_MATCHES = 2000

#: ISO 639-1 -> PostgreSQL text search configuration (stemmer); others use "simple".
PG_CONFIGS = {
    "ar": "arabic",
    "ca": "catalan",
    "da": "danish",
    "de": "german",
    "el": "greek",
    "en": "english",
    "es": "spanish",
    "eu": "basque",
    "fi": "finnish",
    "fr": "french",
    "ga": "irish",
    "hi": "hindi",
    "hu": "hungarian",
    "hy": "armenian",
    "id": "indonesian",
    "it": "italian",
    "lt": "lithuanian",
    "ne": "nepali",
    "nl": "dutch",
    "no": "norwegian",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sr": "serbian",
    "sv": "swedish",
    "ta": "tamil",
    "tr": "turkish",
    "yi": "yiddish",
}


def pg_config(language: str) -> str:
    return PG_CONFIGS.get(language.lower(), "simple")


class DbSearchOptions(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    pass


class DbSearchBackend:
    id = "dbsearch"

    def __init__(self, database: Database) -> None:
        self.database = database

    @property
    def _sqlite(self) -> bool:
        return self.database.dialect == "sqlite"

    async def index(self, documents: Sequence[SearchDocument]) -> None:
        if not documents:
            return
        async with self.database.transaction() as session:
            for doc in documents:
                params = {
                    "kind": doc.kind,
                    "doc_id": doc.id,
                    "title": doc.title,
                    "body": doc.body,
                    "tags": " ".join(doc.tags),
                    "language": doc.language,
                }
                if self._sqlite:
                    rowid = await session.scalar(
                        sql("SELECT rowid FROM search_doc WHERE kind = :kind AND doc_id = :doc_id"),
                        params,
                    )
                    if rowid is None:
                        rowid = await session.scalar(
                            sql(
                                "INSERT INTO search_doc (kind, doc_id) VALUES (:kind, :doc_id) "
                                "RETURNING rowid"
                            ),
                            params,
                        )
                    else:
                        await session.execute(
                            sql("DELETE FROM search_fts WHERE rowid = :rowid"), {"rowid": rowid}
                        )
                    await session.execute(
                        sql(
                            "INSERT INTO search_fts (rowid, title, body, tags) "
                            "VALUES (:rowid, :title, :body, :tags)"
                        ),
                        {**params, "rowid": rowid},
                    )
                else:
                    await session.execute(
                        sql(
                            "INSERT INTO search_document (kind, doc_id, language, document) "
                            "VALUES (:kind, :doc_id, :language, "
                            " setweight(to_tsvector(CAST(:cfg AS regconfig), :title), 'A') || "
                            " setweight(to_tsvector(CAST(:cfg AS regconfig), :tags), 'B') || "
                            " setweight(to_tsvector(CAST(:cfg AS regconfig), :body), 'C')) "
                            "ON CONFLICT (kind, doc_id) DO UPDATE SET "
                            "language = EXCLUDED.language, document = EXCLUDED.document"
                        ),
                        {**params, "cfg": pg_config(doc.language)},
                    )

    async def remove(self, kind: str, ids: Sequence[str]) -> None:
        if not ids:
            return
        async with self.database.transaction() as session:
            for doc_id in ids:
                params = {"kind": kind, "doc_id": doc_id}
                if self._sqlite:
                    rowid = await session.scalar(
                        sql(
                            "DELETE FROM search_doc WHERE kind = :kind AND doc_id = :doc_id "
                            "RETURNING rowid"
                        ),
                        params,
                    )
                    if rowid is not None:
                        await session.execute(
                            sql("DELETE FROM search_fts WHERE rowid = :rowid"), {"rowid": rowid}
                        )
                else:
                    await session.execute(
                        sql("DELETE FROM search_document WHERE kind = :kind AND doc_id = :doc_id"),
                        params,
                    )

    async def search(
        self, kind: str, text: str, limit: int = 20, language: str = "en"
    ) -> list[SearchHit]:
        terms = query_terms(text)
        if not terms or limit < 1:
            return []
        if self._sqlite:
            # Each term quoted (FTS5 string), the last as a prefix; implicit AND.
            match = " ".join(f'"{t}"' for t in terms[:-1]) + f' "{terms[-1]}"*'
            statement = sql(
                "SELECT d.doc_id, bm25(search_fts, 10.0, 1.0, 4.0) AS rank "
                "FROM search_fts JOIN search_doc AS d ON d.rowid = search_fts.rowid "
                "WHERE search_fts MATCH :match AND d.kind = :kind "
                "ORDER BY rank LIMIT :limit"
            )
            params: dict[str, object] = {"match": match.strip(), "kind": kind, "limit": limit}
            if await self._very_common(match.strip()):
                # BM25 would score every one of thousands of matches; for words this common
                # the scores barely differ, so take the most recently indexed matches instead.
                statement = sql(
                    "SELECT d.doc_id, 0.0 AS rank "
                    "FROM search_fts JOIN search_doc AS d ON d.rowid = search_fts.rowid "
                    "WHERE search_fts MATCH :match AND d.kind = :kind "
                    "ORDER BY search_fts.rowid DESC LIMIT :limit"
                )
        else:
            tsquery = " & ".join([*terms[:-1], f"{terms[-1]}:*"])
            statement = sql(
                "SELECT doc_id, ts_rank_cd(document, q) AS rank FROM search_document, "
                " (SELECT to_tsquery(CAST(:cfg AS regconfig), :q) "
                "      || to_tsquery('simple', :q) AS q) AS query "
                "WHERE kind = :kind AND document @@ q ORDER BY rank DESC, doc_id LIMIT :limit"
            )
            params = {"cfg": pg_config(language), "q": tsquery, "kind": kind, "limit": limit}
        async with self.database.replica_read() as session:
            rows = (await session.execute(statement, params)).all()
        return [SearchHit(id=row[0], score=(-row[1] if self._sqlite else row[1])) for row in rows]

    async def _very_common(self, match: str) -> bool:
        """Whether ``match`` finds at least ``COMMON_MATCHES`` documents: counting row ids
        without scoring them stops early and costs a millisecond or two."""
        async with self.database.read() as session:
            found = await session.scalar(
                sql(
                    "SELECT count(*) FROM (SELECT rowid FROM search_fts "
                    "WHERE search_fts MATCH :match LIMIT :cap)"
                ),
                {"match": match, "cap": COMMON_MATCHES},
            )
        return int(found or 0) >= COMMON_MATCHES

    async def health(self) -> ProviderHealth:
        try:
            await self.database.ping()
        except Exception as error:
            return ProviderHealth(HealthState.DOWN, detail=type(error).__name__)
        return ProviderHealth(HealthState.UP)


@hookimpl
def register_search_backends(context: PluginContext) -> Sequence[DbSearchBackend]:
    context.options("dbsearch", DbSearchOptions)
    return [DbSearchBackend(context.database)]
