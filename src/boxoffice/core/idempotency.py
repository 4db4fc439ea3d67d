"""Idempotency keys (ARCHITECTURE §2), the way Stripe does them.

An unsafe request that moves capacity or money may carry an ``Idempotency-Key`` header. The
first request with a key runs its change and stores its response *in the same transaction*;
a repeat with the same key and the same request gets that stored response back and changes
nothing. So:

- a process killed mid-request stored nothing and changed nothing: the retry runs afresh;
- two copies racing each other: on SQLite ``BEGIN IMMEDIATE`` puts them in line and the
  second finds the first's record; on PostgreSQL the second's insert of the record waits for
  the first's unique-index entry, fails, rolls its own change back, and returns the stored
  response;
- a refused request (4xx) stores nothing: it changed nothing, and a retry may succeed;
- the same key with a *different* request is refused (422), never silently replayed.

Keys are scoped to the caller (account, or "anonymous" plus the operation) and kept for
``RETENTION``; maintenance deletes older ones.

A stored response can hold a secret (an order's link), so the record is sealed by the key
that made it: the database keeps the key's SHA-256 and the response encrypted (AES-GCM)
with a key derived from the scope and the Idempotency-Key, which only the client holds. A
copy of the database opens no stored response; a key should be random (a UUID), as every
idempotency API asks.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Generic, TypeVar

import msgspec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, bindparam, delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.sqltypes import Integer, LargeBinary, String

from boxoffice.core.clock import Clock
from boxoffice.core.errors import FieldError, RuleViolated, ValidationFailed
from boxoffice.core.storage import Base, Database, UTCDateTime, table_of
from boxoffice.core.storage.prepared import Prepared

T = TypeVar("T")

RETENTION = timedelta(hours=24)
MAX_KEY_LENGTH = 200


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_record"

    scope: Mapped[str] = mapped_column(String(200), primary_key=True)
    #: SHA-256 of the Idempotency-Key (hex).
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH), primary_key=True)
    #: sha256 of the request (operation, target and body): a reused key must match it.
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    #: The response, sealed: a 12-byte nonce, then AES-GCM ciphertext and tag.
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class IdempotencyKeyReused(RuleViolated):
    slug = "idempotency-key-reused"
    title = "This Idempotency-Key was used for a different request"


class Outcome(msgspec.Struct, Generic[T], frozen=True):
    result: T
    status_code: int
    replayed: bool = False


def fingerprint(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\x00")
    return digest.hexdigest()


def check_key(key: str) -> str:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise ValidationFailed(
            "the Idempotency-Key header must be 1 to 200 printable ASCII characters",
            errors=[FieldError("header.Idempotency-Key", "1-200 printable ASCII characters")],
        )
    return key


_RECORD = table_of(IdempotencyRecord)
_LOOKUP = Prepared(
    select(_RECORD.c.fingerprint, _RECORD.c.status_code, _RECORD.c.body).where(
        _RECORD.c.scope == bindparam("scope"), _RECORD.c.key == bindparam("key")
    )
)
_STORE = Prepared(insert(_RECORD))
_NONCE_BYTES = 12


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _sealer(scope: str, key: str) -> AESGCM:
    return AESGCM(hashlib.sha256(f"boxoffice/idempotency/v1\0{scope}\0{key}".encode()).digest())


def _seal(scope: str, key: str, body: bytes) -> bytes:
    nonce = os.urandom(_NONCE_BYTES)
    return nonce + _sealer(scope, key).encrypt(nonce, body, scope.encode())


def _open(scope: str, key: str, sealed: bytes) -> bytes:
    nonce, ciphertext = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
    return _sealer(scope, key).decrypt(nonce, ciphertext, scope.encode())


def _stored(
    connection: Connection, scope: str, key: str, print_: str, result_type: type[T]
) -> Outcome[T] | None:
    record = _LOOKUP.first(connection, {"scope": scope, "key": _key_hash(key)})
    if record is None:
        return None
    if record.fingerprint != print_:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was already used for a different request; use a new key",
            extra={"key": key},
        )
    body = _open(scope, key, record.body)
    return Outcome(msgspec.json.decode(body, type=result_type), record.status_code, replayed=True)


def _store(
    connection: Connection,
    clock: Clock,
    scope: str,
    key: str,
    print_: str,
    status_code: int,
    result: object,
) -> None:
    # Deferred: in a hot path it joins the work's own writes (one statement on PostgreSQL);
    # a racing copy that stored the key first makes it an IntegrityError all the same.
    _STORE.defer(
        connection,
        {
            "scope": scope,
            "key": _key_hash(key),
            "fingerprint": print_,
            "status_code": status_code,
            "body": _seal(scope, key, msgspec.json.encode(result)),
            "created_at": clock.now(),
        },
    )


async def run_once(
    db: Database,
    clock: Clock,
    *,
    key: str | None,
    scope: str,
    request_fingerprint: str,
    work: Callable[[Connection], T],
    result_type: type[T],
    status_code: int = 200,
) -> Outcome[T]:
    """Run ``work`` (synchronous, :meth:`Database.run`) once per ``(scope, key)``; see the
    module doc."""
    if key is None:
        return Outcome(await db.run(work), status_code)
    check_key(key)

    def once(connection: Connection) -> Outcome[T]:
        earlier = _stored(connection, scope, key, request_fingerprint, result_type)
        if earlier is not None:
            return earlier
        result = work(connection)
        _store(connection, clock, scope, key, request_fingerprint, status_code, result)
        return Outcome(result, status_code)

    try:
        return await db.run(once)
    except IntegrityError:
        return await _concurrent_copy(db, scope, key, request_fingerprint, result_type)


async def run_once_async(
    db: Database,
    clock: Clock,
    *,
    key: str | None,
    scope: str,
    request_fingerprint: str,
    work: Callable[[AsyncSession], Awaitable[T]],
    result_type: type[T],
    status_code: int = 200,
) -> Outcome[T]:
    """:func:`run_once` for ``work`` written against an ``AsyncSession``."""
    if key is None:
        async with db.transaction() as session:
            return Outcome(await work(session), status_code)
    check_key(key)
    try:
        async with db.transaction() as session:
            earlier = await session.run_sync(
                lambda sync: _stored(
                    sync.connection(), scope, key, request_fingerprint, result_type
                )
            )
            if earlier is not None:
                return earlier
            result = await work(session)
            print_ = request_fingerprint
            await session.run_sync(
                lambda sync: _store(
                    sync.connection(), clock, scope, key, print_, status_code, result
                )
            )
            return Outcome(result, status_code)
    except IntegrityError:
        return await _concurrent_copy(db, scope, key, request_fingerprint, result_type)


async def _concurrent_copy(
    db: Database, scope: str, key: str, print_: str, result_type: type[T]
) -> Outcome[T]:
    """A concurrent copy committed first (PostgreSQL); ours rolled back: return theirs."""
    async with db.read() as session:
        earlier = await session.run_sync(
            lambda sync: _stored(sync.connection(), scope, key, print_, result_type)
        )
    if earlier is None:
        raise IntegrityError("idempotency record vanished", None, Exception())
    return earlier


async def sweep_idempotency_records(db: Database, clock: Clock) -> None:
    async with db.transaction() as session:
        await session.execute(
            delete(IdempotencyRecord).where(IdempotencyRecord.created_at < clock.now() - RETENTION)
        )
