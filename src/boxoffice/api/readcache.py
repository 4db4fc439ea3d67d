"""The public read cache: the pages every buyer loads (the event list, an event, its ticket
types and availability, the categories) served from this process's memory.

A flash sale is thousands of buyers reloading the same two or three pages; each answer costs
a read transaction and a few queries, the same bytes every time. This cache keeps the encoded
answer (body and headers, gzipped or not as the client asked) for a short time and sends it
without entering the handler (no dependency, no session, no query):

- **Only what is public.** A route opts in (``opt=PUBLIC_READ``), and an answer is kept only
  when its handler marked it ``Cache-Control: public`` with status 200. Private answers (an
  access code's ticket types, anything signed in) are never kept, so one buyer's or
  organizer's data cannot reach another from here. The key is the path, the query and
  whether the client takes gzip, and for a route whose answer is in the caller's language
  (``opt=PUBLIC_READ_BY_LANGUAGE``: the categories) the language ``Accept-Language``
  negotiates: nothing else varies these answers.
- **Fresh within a bound.** An answer is kept ``read_cache_seconds`` (1 s by default): a sale,
  a change in another process, a hold that lapsed show within that time everywhere.
  Availability shown to buyers never decides anything (the checkout's conditional update
  does), so a second's lag is harmless.
- **Changes show at once where they are made.** An organizer's or admin's successful write
  empties this process's cache (:func:`invalidating_public_reads`), and a signed-in caller
  (``Authorization``) is never answered from it, so the organizer reloading the page sees the
  change.
- **One miss per key.** Requests that miss while another is computing the same answer wait
  for it instead of querying too (a reload storm after expiry is one query).
- **Bounded.** At most ``MAX_BYTES`` of bodies; the least recently used go first.

``If-None-Match`` is answered from the kept ETag with a 304 and no body.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from litestar.enums import ScopeType
from litestar.types import (
    ASGIApp,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Message,
    Receive,
    Scope,
    Send,
)

from boxoffice.api.middleware import signed_in
from boxoffice.core.notify.rendering import accepted_languages, pick_locale

#: Route ``opt`` of the public reads this cache may answer.
PUBLIC_READ_KEY = "public_read"
PUBLIC_READ = {PUBLIC_READ_KEY: True}
#: ``opt`` of a public read answered in the caller's language (``Accept-Language``).
BY_LANGUAGE_KEY = "by_language"
PUBLIC_READ_BY_LANGUAGE = {**PUBLIC_READ, BY_LANGUAGE_KEY: True}
#: Bodies kept in all, and the largest one kept.
MAX_BYTES = 32 * 1024 * 1024
MAX_BODY = 1024 * 1024
#: Headers a kept answer is sent with (the rest were the request's own: id, date).
_KEPT_HEADERS = frozenset(
    {
        b"content-type",
        b"content-length",
        b"content-encoding",
        b"content-language",
        b"etag",
        b"cache-control",
        b"vary",
    }
)
_NOT_MODIFIED_HEADERS = frozenset({b"etag", b"cache-control", b"vary"})

Key = tuple[str, bytes, bool, str]


@dataclass(frozen=True, slots=True)
class Kept:
    headers: list[tuple[bytes, bytes]]
    body: bytes
    etag: bytes
    until: float
    public: bool


def _answer(headers: list[tuple[bytes, bytes]], body: bytes, until: float) -> Kept:
    etag, public = b"", False
    for name, value in headers:
        if name == b"cache-control":
            public = value.startswith(b"public")
        elif name == b"etag":
            etag = value
        elif name == b"set-cookie":
            return Kept(headers, body, etag, until, public=False)
    kept_headers = [(n, v) for n, v in headers if n in _KEPT_HEADERS]
    return Kept(kept_headers, body, etag, until, public)


class PublicReadCache:
    def __init__(self, seconds: float, now: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.now = now
        self._kept: OrderedDict[Key, Kept] = OrderedDict()
        self._bytes = 0
        self._computing: dict[Key, asyncio.Future[Kept | None]] = {}

    @property
    def enabled(self) -> bool:
        return self.seconds > 0

    def fresh(self, key: Key) -> Kept | None:
        kept = self._kept.get(key)
        if kept is None:
            return None
        if kept.until <= self.now():
            self._drop(key)
            return None
        self._kept.move_to_end(key)
        return kept

    def keep(self, key: Key, headers: list[tuple[bytes, bytes]], body: bytes) -> Kept | None:
        """Keep a 200 answer if it is public; the kept answer, or None."""
        answer = _answer(headers, body, until=self.now() + self.seconds)
        if not answer.public or len(body) > MAX_BODY:
            return None
        self._drop(key)
        self._kept[key] = answer
        self._bytes += len(body)
        while self._bytes > MAX_BYTES:
            self._drop(next(iter(self._kept)))
        return answer

    def clear(self) -> None:
        self._kept.clear()
        self._bytes = 0

    def _drop(self, key: Key) -> None:
        kept = self._kept.pop(key, None)
        if kept is not None:
            self._bytes -= len(kept.body)

    async def answer(self, scope: Scope, receive: Receive, send: Send, app: ASGIApp) -> None:
        headers = scope["headers"]
        if signed_in(scope):
            # A signed-in caller gets the primary's answer, not one kept from a read that
            # may have been a replica's, or another moment's: they see their own writes.
            await app(scope, receive, send)
            return
        gzip = any(name == b"accept-encoding" and b"gzip" in value for name, value in headers)
        key: Key = (scope["path"], scope["query_string"], gzip, _language(scope))
        kept = self.fresh(key)
        if kept is None:
            computing = self._computing.get(key)
            if computing is None:
                await self._compute(key, scope, receive, send, app)
                return
            kept = await asyncio.shield(computing)
            if kept is None:  # that answer was not one to keep: this request asks itself
                await app(scope, receive, send)
                return
        await _send_kept(kept, headers, send)

    async def _compute(
        self, key: Key, scope: Scope, receive: Receive, send: Send, app: ASGIApp
    ) -> None:
        """Run the handler for the whole answer (without the client's ``If-None-Match``, so
        that there is a body to keep), keep it if it is public, and answer the client."""
        done: asyncio.Future[Kept | None] = asyncio.get_running_loop().create_future()
        self._computing[key] = done
        unconditional = {
            **scope,
            "headers": [(n, v) for n, v in scope["headers"] if n != b"if-none-match"],
        }
        messages: list[Message] = []
        status, headers, chunks = 0, [], []

        async def collect(message: Message) -> None:
            nonlocal status, headers
            messages.append(message)
            if message["type"] == "http.response.start":
                status, headers = message["status"], list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        kept: Kept | None = None
        try:
            await app(unconditional, receive, collect)  # type: ignore[arg-type]
            if status == 200:
                body = b"".join(chunks)
                kept = self.keep(key, headers, body)
                if kept is None:  # not one to keep, still worth its 304
                    await _send_kept(_answer(headers, body, until=0), scope["headers"], send)
                    return
        finally:
            del self._computing[key]
            done.set_result(kept)
        if kept is not None:
            await _send_kept(kept, scope["headers"], send)
        else:
            for message in messages:
                await send(message)


async def _send_kept(kept: Kept, request_headers: Any, send: Send) -> None:
    status, headers, body = 200, kept.headers, kept.body
    for name, value in request_headers:
        if name == b"if-none-match" and kept.etag and _matches(value, kept.etag):
            status, body = 304, b""
            headers = [(n, v) for n, v in kept.headers if n in _NOT_MODIFIED_HEADERS]
            break
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": status,
        "headers": headers,
    }
    await send(start)
    end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body, "more_body": False}
    await send(end)


def _language(scope: Scope) -> str:
    """The negotiated language of a route answered in the caller's language; "" otherwise."""
    if not scope["route_handler"].opt.get(BY_LANGUAGE_KEY):
        return ""
    header = next((v for n, v in scope["headers"] if n == b"accept-language"), b"")
    return pick_locale(*accepted_languages(header.decode("latin-1")))


def _matches(wanted: bytes, etag: bytes) -> bool:
    return wanted.strip() == b"*" or etag in {tag.strip() for tag in wanted.split(b",")}


def _cache_of(scope: Scope) -> PublicReadCache | None:
    cache = scope["app"].state.get("read_cache")
    return cache if isinstance(cache, PublicReadCache) and cache.enabled else None


def public_read_cache(app: ASGIApp) -> ASGIApp:
    """Middleware of the routes marked :data:`PUBLIC_READ` (see the module's docstring)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        cache = _cache_of(scope)
        if cache is None or scope["type"] != ScopeType.HTTP or scope.get("method") != "GET":
            await app(scope, receive, send)
            return
        await cache.answer(scope, receive, send, app)

    return middleware


def invalidating_public_reads(app: ASGIApp) -> ASGIApp:
    """Middleware of the organizer and admin routes: a write empties this process's public
    read cache, so the change shows at once (other processes: within
    ``read_cache_seconds``)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        cache = _cache_of(scope)
        if cache is None or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await app(scope, receive, send)
            return

        try:
            await app(scope, receive, send)
        finally:
            # After the answer (the change is committed by then): a read that began before
            # the commit and is kept after this is stale for at most read_cache_seconds.
            cache.clear()

    return middleware
