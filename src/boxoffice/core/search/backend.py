"""The search backend protocol: full-text search over documents the core hands over."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import msgspec

from boxoffice.core.providers import ProviderHealth

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_TERMS = 16


def query_terms(raw: str) -> list[str]:
    """The words of the user's text: the only part of it any query language sees, so no
    input can be a syntax error in FTS5, tsquery or a search engine's query DSL."""
    return [w.lower() for w in _WORD.findall(raw)][:MAX_TERMS]


class SearchDocument(msgspec.Struct, frozen=True):
    kind: str  # "event", ...
    id: str
    title: str
    body: str = ""
    tags: tuple[str, ...] = ()
    #: An ISO 639-1 code; backends use it for stemming ("en", "de", "fr", ...).
    language: str = "en"


class SearchHit(msgspec.Struct, frozen=True):
    id: str
    score: float  # higher is better; only the order matters


@runtime_checkable
class SearchBackend(Protocol):
    id: str

    async def index(self, documents: Sequence[SearchDocument]) -> None:
        """Insert or replace documents (same kind and id replaces). Idempotent."""
        ...

    async def remove(self, kind: str, ids: Sequence[str]) -> None:
        """Remove documents; removing an absent one is not an error."""
        ...

    async def search(
        self, kind: str, text: str, limit: int = 20, language: str = "en"
    ) -> list[SearchHit]:
        """Documents of ``kind`` matching ``text``, best first. Any text is valid input: a
        backend never fails on the user's query syntax. ``language`` is the searcher's."""
        ...

    async def health(self) -> ProviderHealth: ...
