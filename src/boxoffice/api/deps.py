"""What route handlers ask for by name, so that a handler says only what it does.

- ``session``: the request's database session: a read transaction for GET and HEAD, a write
  transaction (committed after the handler returns and its response is built, rolled back if
  it raises) for anything else. A handler that runs its own transaction (the idempotent
  ones) says ``opt=needs(..., session="read")``.
- ``clock``, ``regions``, ``auth_policy``, ``signer``, ``public_url``, ``search_backend``,
  ``media_store`` (``None`` when none is configured): the platform's parts.
- ``role``: the caller's role in the organization of the path's ``org_id``, once the caller
  may act there with the permission the handler names in ``opt=needs(Permission.X)``.
  Someone from elsewhere gets 404, a member whose role lacks the permission 403.
- ``event``: the organization's event of the path's ``event_id`` (after ``role``).
- ``idempotency``: runs a handler's work at most once per ``Idempotency-Key``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Literal, TypeVar

from litestar import Request, Response
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath
from litestar.types import Scope
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.catalog.models import Event
from boxoffice.core.catalog.service import get_event_of
from boxoffice.core.clock import Clock
from boxoffice.core.compliance.region import RegionLookup
from boxoffice.core.idempotency import Outcome, fingerprint, run_once, run_once_async
from boxoffice.core.identity.accounts import AuthPolicy
from boxoffice.core.identity.permissions import Permission, Role
from boxoffice.core.identity.principal import Principal, authorize
from boxoffice.core.identity.tokens import TokenSigner
from boxoffice.core.media.store import MediaStore
from boxoffice.core.search.backend import SearchBackend
from boxoffice.platform import Platform

T = TypeVar("T")
PERMISSION = "permission"
SESSION = "session"
OPEN_TRANSACTION = "boxoffice.transaction"


#: ``opt`` of a handler that is not a GET but only reads (a search with a JSON body).
READ_ONLY = {SESSION: "read"}


def needs(
    permission: Permission, *, session: Literal["read", "write"] | None = None
) -> dict[str, Any]:
    """A handler's ``opt``: the permission its ``role``/``event`` dependencies check, and
    (for handlers running their own transaction) that its ``session`` only reads."""
    opt: dict[str, Any] = {PERMISSION: permission}
    if session is not None:
        opt[SESSION] = session
    return opt


def platform_of(state: State) -> Platform:
    platform: Platform = state["platform"]
    return platform


class _OpenTransaction:
    """A transaction a request opened, closed exactly once: by the ``session`` dependency
    after the handler, or by :func:`close_left_open` when the request failed before the
    handler ran (Litestar does not clean up a dependency with ``yield`` when another
    dependency of the same request raises: a 401 from ``principal`` or a 404 from ``event``
    would otherwise leave the transaction, and on SQLite the write lock, to the garbage
    collector)."""

    def __init__(self, context: AbstractAsyncContextManager[AsyncSession]) -> None:
        self.context = context
        self.closed = False

    async def close(self, error: BaseException | None) -> bool:
        """Commit (no ``error``) or roll back; whether ``error`` was swallowed (never)."""
        if self.closed:
            return False
        self.closed = True
        if error is None:
            return bool(await self.context.__aexit__(None, None, None))
        return bool(await self.context.__aexit__(type(error), error, error.__traceback__))


async def session_of(
    request: Request[Any, Any, Any], platform: NamedDependency[Platform]
) -> AsyncIterator[AsyncSession]:
    reads = request.method in ("GET", "HEAD") or request.route_handler.opt.get(SESSION) == "read"
    # A replica only where the request allows it (see core/storage/replicas.py).
    context = platform.db.replica_read() if reads else platform.db.transaction()
    session = await context.__aenter__()
    transaction = request.scope["state"][OPEN_TRANSACTION] = _OpenTransaction(context)
    try:
        yield session
    except BaseException as error:
        if not await transaction.close(error):
            raise
    else:
        await transaction.close(None)


async def close_left_open(error: Exception, scope: Scope) -> None:
    """``after_exception`` hook: roll back a transaction whose request failed before its
    handler ran (see :class:`_OpenTransaction`)."""
    transaction = scope.get("state", {}).get(OPEN_TRANSACTION)
    if isinstance(transaction, _OpenTransaction):
        await transaction.close(error)


async def role_of(
    request: Request[Any, Any, Any],
    session: NamedDependency[AsyncSession],
    principal: NamedDependency[Principal],
    org_id: FromPath[uuid.UUID],
) -> Role | None:
    """``None`` for an API key (it has scopes, not a role)."""
    permission = request.route_handler.opt.get(PERMISSION)
    if not isinstance(permission, Permission):  # a programming error, caught by the tests
        raise TypeError(f"{request.route_handler} asks for its role but names no permission")
    return await authorize(session, principal, org_id, permission)


async def event_of(
    session: NamedDependency[AsyncSession],
    role: NamedDependency[Role | None],
    org_id: FromPath[uuid.UUID],
    event_id: FromPath[uuid.UUID],
) -> Event:
    return await get_event_of(session, org_id, event_id)


class Idempotency:
    """Runs a request's work at most once per ``Idempotency-Key`` header (scoped by the
    caller); a repeat answers the first response with ``Idempotent-Replayed: true``."""

    def __init__(self, request: Request[Any, Any, Any], platform: Platform) -> None:
        self.request, self.platform = request, platform

    async def _keyed(self) -> tuple[str | None, str]:
        """The request's ``Idempotency-Key`` and fingerprint; without a key there is nothing
        to compare, and the fingerprint (a hash of the body) is not worked out."""
        request = self.request
        key = request.headers.get("idempotency-key")
        if key is None:
            return None, ""
        return key, fingerprint(request.method, request.url.path, await request.body())

    async def run(
        self,
        scope: str,
        work: Callable[[Connection], T],
        result_type: type[T],
        status_code: int = 200,
    ) -> Response[T]:
        """Synchronous ``work`` on the hot path (``Database.run``)."""
        key, print_ = await self._keyed()
        outcome = await run_once(
            self.platform.db,
            self.platform.clock,
            key=key,
            scope=scope,
            request_fingerprint=print_,
            work=work,
            result_type=result_type,
            status_code=status_code,
        )
        return _replayable(outcome)

    async def run_in_session(
        self, scope: str, work: Callable[[AsyncSession], Awaitable[T]], result_type: type[T]
    ) -> Response[T]:
        """``work`` in a write transaction of its own."""
        key, print_ = await self._keyed()
        outcome = await run_once_async(
            self.platform.db,
            self.platform.clock,
            key=key,
            scope=scope,
            request_fingerprint=print_,
            work=work,
            result_type=result_type,
        )
        return _replayable(outcome)


def _replayable(outcome: Outcome[T]) -> Response[T]:
    headers = {"idempotent-replayed": "true"} if outcome.replayed else {}
    return Response(outcome.result, status_code=outcome.status_code, headers=headers)


def _clock(platform: NamedDependency[Platform]) -> Clock:
    return platform.clock


def _regions(platform: NamedDependency[Platform]) -> RegionLookup:
    return platform.region_or_none


def _auth_policy(platform: NamedDependency[Platform]) -> AuthPolicy:
    return platform.auth_policy


def _signer(platform: NamedDependency[Platform]) -> TokenSigner:
    return platform.signer


def _public_url(platform: NamedDependency[Platform]) -> str:
    return platform.settings.resolved_public_url


def _search_backend(platform: NamedDependency[Platform]) -> SearchBackend | None:
    return platform.router.search_backend()


def _media_store(platform: NamedDependency[Platform]) -> MediaStore | None:
    return platform.media_store


def _idempotency(
    request: Request[Any, Any, Any], platform: NamedDependency[Platform]
) -> Idempotency:
    return Idempotency(request, platform)


DEPENDENCIES = {
    "platform": Provide(platform_of, sync_to_thread=False),
    "session": Provide(session_of),
    "clock": Provide(_clock, sync_to_thread=False),
    "regions": Provide(_regions, sync_to_thread=False),
    "auth_policy": Provide(_auth_policy, sync_to_thread=False),
    "signer": Provide(_signer, sync_to_thread=False),
    "public_url": Provide(_public_url, sync_to_thread=False),
    "idempotency": Provide(_idempotency, sync_to_thread=False),
    "search_backend": Provide(_search_backend, sync_to_thread=False),
    "media_store": Provide(_media_store, sync_to_thread=False),
    "role": Provide(role_of),
    "event": Provide(event_of),
}
