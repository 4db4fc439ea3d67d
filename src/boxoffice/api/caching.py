"""HTTP caching: ``ETag`` and ``Cache-Control`` for public reads, ``no-store`` for the rest.

A client or CDN that sends ``If-None-Match`` with the current ETag gets ``304 Not Modified``
and no body. The ETag is computed from the encoded response, so it changes exactly when the
content does, whichever process served it.
"""

from __future__ import annotations

import hashlib
from typing import Any, TypeVar

import msgspec
from litestar import Request, Response
from litestar.datastructures import CacheControlHeader

from boxoffice.core.notify.rendering import language_tag

T = TypeVar("T")

#: What a CDN (or any shared cache) may do with a public read beyond ``max-age``: answer from
#: its copy while it fetches a new one in the background for as long again, and keep
#: answering from it for an hour while boxoffice is unreachable (an event page is better a
#: minute old than an error). docs/deploy.md lists the routes.
CDN_STALENESS = "stale-while-revalidate=60, stale-if-error=3600"

#: For every response that is someone's own (orders and holds with their secrets, tokens,
#: profiles, everything an organizer sees): no cache, shared or private, keeps a copy.
PRIVATE = CacheControlHeader(no_store=True)


def cacheable(
    request: Request[Any, Any, Any],
    payload: T,
    *,
    max_age: int,
    shared: bool = True,
    language: str | None = None,
) -> Response[T]:
    """``payload`` with its ETag, or 304 if the client has it; ``language``: the catalog the
    text is in (the answer then varies by ``Accept-Language`` and says which it is)."""
    body = msgspec.json.encode(payload)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {
        "etag": etag,
        "cache-control": (
            f"public, max-age={max_age}, {CDN_STALENESS}"
            if shared
            else f"private, max-age={max_age}"
        ),
        "vary": "accept-encoding",
    }
    if language is not None:
        headers["content-language"] = language_tag(language)
        headers["vary"] = "accept-encoding, accept-language"
    wanted = request.headers.get("if-none-match", "")
    if etag in {tag.strip() for tag in wanted.split(",")} or wanted.strip() == "*":
        return Response(content=b"", status_code=304, headers=headers)  # type: ignore[arg-type]
    return Response(content=payload, headers=headers)
