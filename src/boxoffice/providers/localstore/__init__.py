"""The ``localstore`` media store: files in a directory, served by the API at ``/media/``.

Keys carry a content hash, so files never change once written and are served with
``Cache-Control: immutable``. For several machines use a shared directory or an object-store
plugin (S3-compatible).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import anyio
import msgspec

from boxoffice.core.hookspecs import PluginContext, hookimpl
from boxoffice.core.providers import HealthState, ProviderHealth

SAFE_KEY = re.compile(r"^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*$")


class LocalStoreOptions(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    #: Relative paths are below the data directory.
    directory: str = "media"


def safe_path(root: Path, key: str) -> Path:
    """The file for ``key`` inside ``root``; a key that could escape it is refused."""
    if not SAFE_KEY.match(key) or ".." in key:
        raise ValueError(f"unsafe media key {key!r}")
    return root / key


class LocalStore:
    id = "localstore"

    def __init__(self, directory: Path, public_url: str) -> None:
        self.directory = directory
        self.public_url = public_url.rstrip("/")

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        target = anyio.Path(safe_path(self.directory, key))
        await target.parent.mkdir(parents=True, exist_ok=True)
        await target.write_bytes(data)

    async def delete(self, key: str) -> None:
        await anyio.Path(safe_path(self.directory, key)).unlink(missing_ok=True)

    def url(self, key: str) -> str:
        return f"{self.public_url}/media/{key}"

    async def read(self, key: str) -> bytes | None:
        try:
            path = anyio.Path(safe_path(self.directory, key))
            return await path.read_bytes() if await path.is_file() else None
        except ValueError:
            return None

    async def health(self) -> ProviderHealth:
        return ProviderHealth(HealthState.UP, detail=str(self.directory))


@hookimpl
def register_media_stores(context: PluginContext) -> Sequence[LocalStore]:
    options = context.options("localstore", LocalStoreOptions)
    directory = Path(options.directory)
    if not directory.is_absolute():
        directory = context.data_dir / directory
    return [LocalStore(directory, context.public_url)]
