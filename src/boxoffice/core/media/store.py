"""The media store protocol: where re-encoded images are kept and how people fetch them."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from boxoffice.core.providers import ProviderHealth


@runtime_checkable
class MediaStore(Protocol):
    id: str

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` under ``key`` (a path of ``[a-z0-9._/-]``); replacing is allowed."""
        ...

    async def delete(self, key: str) -> None:
        """Remove ``key``; removing an absent key is not an error."""
        ...

    async def read(self, key: str) -> bytes | None:
        """What is stored under ``key``; ``None`` when nothing is (or the key is unsafe).
        The API serves it at ``/media/<key>`` for stores whose ``url`` points there."""
        ...

    def url(self, key: str) -> str:
        """Where a browser fetches ``key``."""
        ...

    async def health(self) -> ProviderHealth: ...
