"""Journal entry types.

An entry type is a frozen msgspec Struct subclassing :class:`JournalEntry` and decorated
with :func:`entry_type`; its class name is its stable type name. Entry types are part of
the public contract (plugins subscribe to them): add fields with defaults, never rename.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar, TypeVar

import msgspec

_REGISTRY: dict[str, type[JournalEntry]] = {}

EntryT = TypeVar("EntryT", bound="type[JournalEntry]")


class JournalEntry(msgspec.Struct, frozen=True, kw_only=True):
    """Something that happened. ``aggregate_type`` names what it happened to."""

    aggregate_type: ClassVar[str] = ""

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

    def decode(self) -> JournalEntry | None:
        """The typed entry, or ``None`` if its type is not installed (a removed plugin)."""
        cls = lookup(self.type)
        return None if cls is None else msgspec.convert(self.data, cls)
