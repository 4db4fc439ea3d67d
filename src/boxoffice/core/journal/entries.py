"""Journal entry types.

An entry type is a frozen msgspec Struct subclassing :class:`JournalEntry` and decorated
with :func:`entry_type`; its class name is its stable type name. Entry types are part of
the public contract (plugins and webhook receivers read them): add fields with defaults,
never rename.

Each type has a ``schema_version`` (a class variable, stored with every entry). A change
that old entries do not fit (a field that is required now, a value that means something
else) raises the version and registers an :func:`upgrade` from the one before: entries are
never rewritten in place, they are upgraded as they are read (:meth:`RecordedEntry.decode`),
so a projection rebuilt from the first entry sees every entry in today's shape.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar, TypeVar

import msgspec

_REGISTRY: dict[str, type[JournalEntry]] = {}

EntryT = TypeVar("EntryT", bound="type[JournalEntry]")

#: Turns an entry's data of one version into the next version's.
Upgrade = Callable[[dict[str, Any]], dict[str, Any]]
_UPGRADES: dict[tuple[str, int], Upgrade] = {}


class JournalEntry(msgspec.Struct, frozen=True, kw_only=True):
    """Something that happened. ``aggregate_type`` names what it happened to;
    ``schema_version`` is the version of its schema (see the module doc)."""

    aggregate_type: ClassVar[str] = ""
    schema_version: ClassVar[int] = 1

    def aggregate_id(self) -> str:
        raise NotImplementedError


def entry_type(cls: EntryT) -> EntryT:
    """Register an entry type under its class name."""
    name = cls.__name__
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ValueError(f"journal entry type {name!r} is registered twice")
    _REGISTRY[name] = cls
    return cls


def lookup(name: str) -> type[JournalEntry] | None:
    return _REGISTRY.get(name)


def registered() -> dict[str, type[JournalEntry]]:
    """Every installed entry type by name (the core's and the plugins')."""
    return dict(sorted(_REGISTRY.items()))


def upgrade(cls: type[JournalEntry], *, from_version: int) -> Callable[[Upgrade], Upgrade]:
    """Register how data of ``cls`` at ``from_version`` becomes ``from_version + 1``."""

    def register(function: Upgrade) -> Upgrade:
        key = (cls.__name__, from_version)
        if not 1 <= from_version < cls.schema_version:
            raise ValueError(
                f"{cls.__name__} is at version {cls.schema_version}: no upgrade from {from_version}"
            )
        if key in _UPGRADES:
            raise ValueError(f"{cls.__name__} has two upgrades from version {from_version}")
        _UPGRADES[key] = function
        return function

    return register


def missing_upgrades() -> list[str]:
    """Versions of installed entry types with no way up to the current one (a test keeps
    this empty)."""
    return [
        f"{name} {version} -> {version + 1}"
        for name, cls in registered().items()
        for version in range(1, cls.schema_version)
        if (name, version) not in _UPGRADES
    ]


def upgraded(name: str, version: int, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` of entry type ``name`` stored at ``version``, in the type's current shape
    (unchanged for an unknown type or a current version)."""
    cls = _REGISTRY.get(name)
    if cls is None:
        return data
    while version < cls.schema_version:
        data = _UPGRADES[(name, version)](dict(data))
        version += 1
    return data


class RecordedEntry(msgspec.Struct, frozen=True):
    """An entry as stored: what subscribers and plugins receive."""

    position: int
    entry_id: uuid.UUID
    type: str
    aggregate_type: str
    aggregate_id: str
    occurred_at: datetime
    data: dict[str, Any]
    request_id: str | None = None
    #: The schema version ``data`` was written in (see :func:`upgrade`).
    schema_version: int = 1
    #: PostgreSQL: the id of the transaction that wrote it (reading order is (txid,
    #: position)); 0 on SQLite. Projections keep their checkpoint with it.
    txid: int = 0
    #: The trace it belongs to (W3C ``traceparent``), when tracing was on.
    trace_context: str | None = None

    def current_data(self) -> dict[str, Any]:
        """``data`` upgraded to the type's current version."""
        return upgraded(self.type, self.schema_version, self.data)

    def decode(self) -> JournalEntry | None:
        """The typed entry in its current version, or ``None`` if its type is not
        installed (a removed plugin)."""
        cls = lookup(self.type)
        return None if cls is None else msgspec.convert(self.current_data(), cls)
