"""The media store conformance suite."""

from __future__ import annotations

import pytest

from boxoffice.core.media.store import MediaStore
from boxoffice.testing.conformance.base import ConformanceSuite, check_health, check_id


class MediaStoreConformance(ConformanceSuite):
    """Every media store passes these. Provide a ``media_store`` fixture. The suite reads
    back through the store's own ``read``; override :meth:`fetched` to also fetch
    ``store.url(key)`` as a browser would (the S3 test does, against a local S3 server).

    It checks: what is put is read back exactly, replacing replaces, deleting deletes (an
    absent key too), URLs are absolute and name the key, and keys that could escape the
    store (``..``, absolute paths, upper case) are refused.
    """

    async def fetched(self, store: MediaStore, key: str) -> bytes | None:
        """What a browser gets at ``store.url(key)``; by default, what ``read`` gives."""
        return await store.read(key)

    def test_declares_what_it_is(self, media_store: MediaStore) -> None:
        assert isinstance(media_store, MediaStore), "does not satisfy the protocol"
        check_id(media_store.id)

    async def test_health(self, media_store: MediaStore) -> None:
        await check_health(media_store)

    async def test_put_replace_delete(self, media_store: MediaStore) -> None:
        key = "events/conformance/abc123-full.webp"
        assert await media_store.read(key) is None
        await media_store.put(key, b"RIFF first", "image/webp")
        assert await media_store.read(key) == b"RIFF first"
        assert await self.fetched(media_store, key) == b"RIFF first"
        await media_store.put(key, b"RIFF second", "image/webp")
        assert await media_store.read(key) == b"RIFF second", "put replaces"
        assert await self.fetched(media_store, key) == b"RIFF second"
        await media_store.delete(key)
        assert await media_store.read(key) is None
        assert await self.fetched(media_store, key) is None
        await media_store.delete(key)  # deleting an absent key is not an error

    async def test_keys_are_separate(self, media_store: MediaStore) -> None:
        await media_store.put("events/a/one.webp", b"one", "image/webp")
        await media_store.put("events/a/two.webp", b"two", "image/webp")
        assert await media_store.read("events/a/one.webp") == b"one"
        assert await media_store.read("events/a/two.webp") == b"two"
        await media_store.delete("events/a/one.webp")
        assert await media_store.read("events/a/two.webp") == b"two"

    def test_urls_are_absolute_and_name_the_key(self, media_store: MediaStore) -> None:
        url = media_store.url("events/e1/pic-thumb.webp")
        assert url.startswith(("https://", "http://")), url
        assert url.endswith("events/e1/pic-thumb.webp"), url

    @pytest.mark.parametrize("key", ["../escape.webp", "/absolute.webp", "a/../../b", "UPPER"])
    async def test_unsafe_keys_are_refused(self, media_store: MediaStore, key: str) -> None:
        with pytest.raises(ValueError, match="unsafe"):
            await media_store.put(key, b"x", "image/webp")
        assert await media_store.read(key) is None
