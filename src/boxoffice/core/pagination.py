"""Opaque cursors for keyset pagination: a msgspec Struct, JSON, base64url without padding."""

from __future__ import annotations

import base64
from typing import TypeVar

import msgspec

from boxoffice.core.errors import FieldError, ValidationFailed

CursorT = TypeVar("CursorT")


def encode_cursor(position: msgspec.Struct) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(position)).decode().rstrip("=")


def decode_cursor(value: str, kind: type[CursorT]) -> CursorT:
    """The position ``value`` encodes; a cursor this API did not give out is a 400."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        return msgspec.json.decode(raw, type=kind)
    except (ValueError, msgspec.DecodeError) as error:
        raise ValidationFailed(
            "the cursor is not one this API gave out",
            errors=[FieldError("cursor", "pass next_cursor from a previous page unchanged")],
        ) from error
