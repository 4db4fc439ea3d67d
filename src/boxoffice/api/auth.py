"""Authentication for route handlers: ``principal`` is a dependency any handler can ask for."""

from __future__ import annotations

import hmac
from typing import Any

from litestar import Request
from litestar.di import NamedDependency, Provide

from boxoffice.core.errors import Forbidden
from boxoffice.core.identity.models import User
from boxoffice.core.identity.principal import (
    Principal,
    api_key_use_is_stale,
    authenticate,
    record_api_key_use,
)
from boxoffice.platform import Platform


async def principal_of(
    request: Request[Any, Any, Any], platform: NamedDependency[Platform]
) -> Principal:
    """The caller, from ``Authorization: Bearer …``; 401 problem if missing or invalid."""
    now = platform.clock.now()
    async with platform.db.read() as session:
        principal = await authenticate(
            session, platform.signer, request.headers.get("authorization"), now
        )
    if principal.api_key is not None and api_key_use_is_stale(principal.api_key, now):
        key_id = principal.api_key.id
        # After the request, not inside it: a write request holds SQLite's write slot from
        # its first statement (reading the event), and a second transaction here would wait
        # for it forever.
        platform.run_soon(
            platform.db.run(lambda connection: record_api_key_use(connection, key_id, now)),
            "record-api-key-use",
        )
    return principal


async def caller_of(request: Request[Any, Any, Any], platform: Platform) -> User | None:
    """The signed-in person, if the request says who it is, for routes anyone may call (a
    bad token is still a 401: a client that sends one wants to know)."""
    header = request.headers.get("authorization")
    if not header:
        return None
    async with platform.db.read() as session:
        principal = await authenticate(session, platform.signer, header, platform.clock.now())
    return principal.user


async def user_of(principal: NamedDependency[Principal]) -> User:
    """A signed-in person (not an API key)."""
    return principal.require_user()


async def admin_of(principal: NamedDependency[Principal]) -> User:
    user = principal.require_user()
    if user.platform_role != "admin":
        raise Forbidden("this needs a platform administrator")
    return user


def client_ip(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


#: The header that exempts a client from velocity limits (a key from
#: ``BOXOFFICE_LIMIT_EXEMPT_KEYS``: a load test, a box-office terminal).
EXEMPT_HEADER = "boxoffice-limit-exempt"


def limits_apply(request: Request[Any, Any, Any], platform: Platform) -> bool:
    """Whether velocity limits count this request (not when it presents an exempt key)."""
    given = request.headers.get(EXEMPT_HEADER)
    return not (
        given and any(hmac.compare_digest(given, key) for key in platform.limit_exempt_keys)
    )


AUTH_DEPENDENCIES = {
    "principal": Provide(principal_of),
    "user": Provide(user_of),
    "admin_user": Provide(admin_of),
}
