"""Request id: taken from ``X-Request-ID`` (if sane) or made, bound to every log line of the
request, and echoed in the response; the request's metrics (:mod:`boxoffice.metrics`). And
a guard against NUL characters in any input."""

from __future__ import annotations

import re
import time

import msgspec
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send

from boxoffice import metrics
from boxoffice.api.pageviews import count_if_event_page
from boxoffice.core.errors import FieldError, ValidationFailed
from boxoffice.core.ids import new_id
from boxoffice.core.storage.replicas import LAG_ALLOWED
from boxoffice.logs import get_logger, reset_request_id, set_request_id

HEADER = "x-request-id"
#: Route ``opt`` of the hot routes whose answers are small (a hold, an order): they skip the
#: compression middleware (see ``app.py``).
SMALL_RESPONSE_KEY = "small_response"
SMALL_RESPONSE = {SMALL_RESPONSE_KEY: True}
_SANE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
log = get_logger("boxoffice.access")


def accept_request_id(incoming: str | None) -> str:
    """The caller's request id if it is safe to log and echo, else a fresh one."""
    return incoming if incoming and _SANE.match(incoming) else new_id().hex


#: ``opt`` of a public read that an anonymous caller may get from a read replica (a signed-in
#: caller reads the primary: their own writes are always there; core/storage/replicas.py).
MAY_LAG_KEY = "may_lag"
MAY_LAG = {MAY_LAG_KEY: True}


def signed_in(scope: Scope) -> bool:
    """Whether the request carries credentials (``Authorization``): such a caller must see
    their own writes, so it reads neither a replica nor the public read cache."""
    return any(name == b"authorization" for name, _ in scope["headers"])


def may_lag(scope: Scope) -> bool:
    """Whether this request's reads may come from a read replica: an anonymous caller of a
    route marked ``MAY_LAG`` (a signed-in caller always sees their own writes)."""
    handler = scope.get("route_handler")
    return handler is not None and bool(handler.opt.get(MAY_LAG_KEY)) and not signed_in(scope)


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        incoming = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k.decode("latin-1") == HEADER),
            "",
        )
        request_id = accept_request_id(incoming)
        token = set_request_id(request_id)
        lagging = LAG_ALLOWED.set(may_lag(scope))
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableScopeHeaders.from_message(message)[HEADER] = request_id
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            method = scope.get("method", "")
            log.info(
                "request",
                method=method,
                path=scope.get("path"),
                status=status,
                ms=round(seconds * 1000, 2),
            )
            route = scope.get("path_template", metrics.UNMATCHED)
            metrics.observe_request(method, route, status, seconds)
            count_if_event_page(scope, route, status)
            reset_request_id(token)
            LAG_ALLOWED.reset(lagging)

    return middleware


_NUL_IN_JSON = b"\\u0000"  # a raw NUL byte is malformed JSON already


def _nul(field: str) -> ValidationFailed:
    return ValidationFailed(
        "NUL characters are not allowed", errors=[FieldError(field, "contains a NUL character")]
    )


#: JSON bodies with more opening brackets than this are decoded once more here to see
#: whether they nest deeper than the decoder allows (a normal body skips that).
_BRACKETS_WORTH_A_LOOK = 64


def check_json_body(body: bytes) -> None:
    """A JSON body the decoder would choke on with something other than a syntax error:
    bytes that are not UTF-8, nesting deeper than its recursion limit. 400, never a 500."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _malformed(f"the body is not UTF-8 (byte {error.start})") from error
    if body.count(b"[") + body.count(b"{") > _BRACKETS_WORTH_A_LOOK:
        try:
            msgspec.json.decode(body)
        except RecursionError as error:
            raise _malformed("the JSON body is nested too deeply") from error
        except msgspec.DecodeError:
            pass  # a syntax error: the body's reader answers it


def _malformed(detail: str) -> ValidationFailed:
    return ValidationFailed(detail, errors=[FieldError("body", detail)])


def reject_nul_middleware(app: ASGIApp) -> ASGIApp:
    """Refuse NUL characters in the path, query and JSON body, and JSON bodies that are not
    UTF-8 or nest too deeply (:func:`check_json_body`), with a 400 before anything reads
    them. PostgreSQL cannot store NUL in text (the driver raises), SQLite would keep it: the
    same request must get the same answer on both engines, and no input may cause a 500."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b""):
            raise _nul("path")
        content_type = next((v for k, v in scope["headers"] if k == b"content-type"), b"")
        if b"json" not in content_type.lower():  # uploads are binary; forms are not used
            await app(scope, receive, send)
            return
        tail = b""
        chunks: list[bytes] = []

        async def checked_receive() -> ReceiveMessage:
            nonlocal tail
            message = await receive()
            if message["type"] == "http.request":
                body = message.get("body", b"")
                chunk = tail + body
                if _NUL_IN_JSON in chunk:
                    raise _nul("body")
                tail = chunk[-5:]
                chunks.append(body)
                if not message.get("more_body", False):
                    check_json_body(b"".join(chunks))
            return message

        await app(scope, checked_receive, send)

    return middleware
