"""HTTP caching for public reads: ``ETag`` (a hash of the body) and ``Cache-Control``.

A client or CDN that sends ``If-None-Match`` with the current ETag gets ``304 Not Modified``
and no body. The ETag is computed from the encoded response, so it changes exactly when the
content does, whichever process served it.
"""

from __future__ import annotations

import hashlib
from typing import Any, TypeVar

import msgspec
from litestar import Request, Response

T = TypeVar("T")


def cacheable(
    request: Request[Any, Any, Any], payload: T, *, max_age: int, shared: bool = True
) -> Response[T]:
    body = msgspec.json.encode(payload)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {
        "etag": etag,
        "cache-control": f"{'public' if shared else 'private'}, max-age={max_age}",
        "vary": "accept-encoding",
    }
    wanted = request.headers.get("if-none-match", "")
    if etag in {tag.strip() for tag in wanted.split(",")} or wanted.strip() == "*":
        return Response(content=b"", status_code=304, headers=headers)  # type: ignore[arg-type]
    return Response(content=payload, headers=headers)
