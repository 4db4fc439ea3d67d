"""The ``opensearch`` search backend: documents in an OpenSearch (or Elasticsearch-compatible)
cluster, through the official ``opensearch-py`` client.

The client is synchronous, so its calls run in worker threads behind a per-provider limit
(the bulkhead): a slow cluster cannot starve the event loop or other providers. Writes ask for
``refresh=wait_for`` so a change is searchable when the call returns.

    [search]
    backend = "opensearch"

    [providers.opensearch]
    hosts = ["https://search.internal:9200"]
    username = "boxoffice"
    password = "env:OPENSEARCH_PASSWORD"
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import msgspec
from opensearchpy import NotFoundError, OpenSearch
from opensearchpy.exceptions import OpenSearchException, TransportError

from boxoffice.core.errors import ProviderUnavailable
from boxoffice.core.hookspecs import PluginContext, hookimpl
from boxoffice.core.providers import Bulkhead, HealthState, ProviderHealth
from boxoffice.core.search.backend import SearchDocument, SearchHit, query_terms

T = TypeVar("T")

MAPPINGS = {
    "properties": {
        "kind": {"type": "keyword"},
        "id": {"type": "keyword"},
        "title": {"type": "text"},
        "body": {"type": "text"},
        "tags": {"type": "text"},
        "language": {"type": "keyword"},
    }
}


class OpenSearchOptions(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    hosts: tuple[str, ...] = ("http://127.0.0.1:9200",)
    index: str = "boxoffice-search"
    username: str = ""
    password: str = ""
    verify_certs: bool = True
    timeout_seconds: float = 10.0
    #: Concurrent calls into the cluster from one process (the bulkhead).
    max_concurrency: int = 8


class OpenSearchBackend:
    id = "opensearch"

    def __init__(self, options: OpenSearchOptions, client: OpenSearch | None = None) -> None:
        self.options = options
        auth = (options.username, options.password) if options.username else None
        self.client = client or OpenSearch(
            hosts=options.hosts,
            http_auth=auth,
            verify_certs=options.verify_certs,
            timeout=options.timeout_seconds,
            max_retries=2,
            retry_on_timeout=True,
        )
        self._bulkhead = Bulkhead(options.max_concurrency)
        self._index_ready = False

    async def _call(self, function: Callable[[], T]) -> T:
        try:
            return await self._bulkhead.run(function)
        except (TransportError, OpenSearchException) as error:
            raise ProviderUnavailable("the search cluster did not answer; try again") from error

    async def _ensure_index(self) -> None:
        if self._index_ready:
            return

        def create() -> None:
            if not self.client.indices.exists(index=self.options.index):
                self.client.indices.create(index=self.options.index, body={"mappings": MAPPINGS})

        await self._call(create)
        self._index_ready = True

    @staticmethod
    def _doc_id(kind: str, doc_id: str) -> str:
        return f"{kind}:{doc_id}"

    async def index(self, documents: Sequence[SearchDocument]) -> None:
        if not documents:
            return
        await self._ensure_index()
        actions: list[dict[str, Any]] = []
        for doc in documents:
            actions.append(
                {"index": {"_index": self.options.index, "_id": self._doc_id(doc.kind, doc.id)}}
            )
            actions.append(
                {
                    "kind": doc.kind,
                    "id": doc.id,
                    "title": doc.title,
                    "body": doc.body,
                    "tags": " ".join(doc.tags),
                    "language": doc.language,
                }
            )
        await self._call(lambda: self.client.bulk(body=actions, refresh="wait_for"))

    async def remove(self, kind: str, ids: Sequence[str]) -> None:
        if not ids:
            return
        await self._ensure_index()
        actions = [
            {"delete": {"_index": self.options.index, "_id": self._doc_id(kind, i)}} for i in ids
        ]
        await self._call(lambda: self.client.bulk(body=actions, refresh="wait_for"))

    async def search(
        self, kind: str, text: str, limit: int = 20, language: str = "en"
    ) -> list[SearchHit]:
        terms = query_terms(text)
        if not terms or limit < 1:
            return []
        await self._ensure_index()
        body = {
            "size": limit,
            "_source": False,
            "query": {
                "bool": {
                    "filter": [{"term": {"kind": kind}}],
                    "must": [
                        {
                            "multi_match": {
                                "query": " ".join(terms),
                                "type": "bool_prefix",
                                "operator": "and",
                                "fields": ["title^10", "tags^4", "body"],
                            }
                        }
                    ],
                }
            },
        }

        def run() -> dict[str, Any]:
            try:
                result: dict[str, Any] = self.client.search(index=self.options.index, body=body)
                return result
            except NotFoundError:
                return {"hits": {"hits": []}}

        result = await self._call(run)
        return [
            SearchHit(id=str(hit["_id"]).split(":", 1)[1], score=float(hit["_score"] or 0))
            for hit in result["hits"]["hits"]
        ]

    async def health(self) -> ProviderHealth:
        try:
            up = await self._call(self.client.ping)
        except ProviderUnavailable:
            up = False
        return ProviderHealth(
            HealthState.UP if up else HealthState.DOWN, detail=", ".join(self.options.hosts)
        )


@hookimpl
def register_search_backends(context: PluginContext) -> Sequence[OpenSearchBackend]:
    if "opensearch" not in context.configured():
        return []
    return [OpenSearchBackend(context.options("opensearch", OpenSearchOptions))]
