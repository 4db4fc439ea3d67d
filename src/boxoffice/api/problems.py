"""RFC 9457 problem+json for every error, with a stable ``type`` per kind of problem.

Domain errors carry their own type; Litestar's own exceptions (validation, unknown route,
wrong method) are mapped here; anything unexpected is logged with its traceback and
answered with a generic 500 problem that reveals nothing internal.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
    ValidationException,
)
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from sqlalchemy.exc import DBAPIError, IntegrityError

from boxoffice.api.middleware import accept_request_id
from boxoffice.core.errors import PROBLEM_BASE, BoxofficeError
from boxoffice.core.fields import pattern_descriptions
from boxoffice.core.notify.rendering import (
    DEFAULT_LOCALE,
    accepted_languages,
    language_tag,
    pick_locale,
    translations,
)
from boxoffice.core.storage.outages import connection_lost, waiting_for_database
from boxoffice.logs import current_request_id, get_logger

PROBLEM_JSON = "application/problem+json"

#: The titles of the problems this module answers itself (translated like the domain's).
VALIDATION = "The request is not valid"
NOT_FOUND = "Not found"
METHOD_NOT_ALLOWED = "Method not allowed"
MALFORMED = "The request is malformed"
CONCURRENT_CHANGE = "A concurrent change conflicted with this request"
DATABASE_LOST = "The database connection was lost"
INTERNAL = "Internal error"
log = get_logger(__name__)


def problem_response(
    request: Request[Any, Any, Any],
    *,
    status: int,
    slug: str,
    title: str,
    detail: str,
    errors: list[dict[str, str]] | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[dict[str, Any]]:
    # The title in the caller's language (Accept-Language; RFC 9457 lets a title vary only
    # by language); the detail is the platform's own words, in English.
    locale = pick_locale(*accepted_languages(request.headers.get("accept-language")))
    translated = translations(locale).gettext(title)
    if translated == title:  # a partial catalog without it: the title is in English
        locale = DEFAULT_LOCALE
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug,
        "title": translated,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    # Unknown routes are answered before the request-id middleware runs: fall back here.
    request_id = current_request_id() or accept_request_id(request.headers.get("x-request-id"))
    body["request_id"] = request_id
    headers = {
        **(headers or {}),
        "x-request-id": request_id,
        "content-language": language_tag(locale),
        "vary": "Accept-Language",
    }
    if errors:
        body["errors"] = errors
    for key, value in (extra or {}).items():
        body.setdefault(key, value)
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _domain(request: Request[Any, Any, Any], exc: BoxofficeError) -> Response[dict[str, Any]]:
    if exc.status >= 500:
        log.error("problem", type=exc.slug, detail=exc.detail)
    headers: dict[str, str] = {}
    if exc.status == 401:
        headers["www-authenticate"] = 'Bearer realm="boxoffice"'
    if "retry_after" in exc.extra:
        headers["retry-after"] = str(exc.extra["retry_after"])
    return problem_response(
        request,
        status=exc.status,
        slug=exc.slug,
        title=exc.title,
        detail=exc.detail,
        errors=[{"field": e.field, "message": e.message} for e in exc.errors],
        extra=exc.extra,
        headers=headers,
    )


def _validation(
    request: Request[Any, Any, Any], exc: ValidationException
) -> Response[dict[str, Any]]:
    errors: list[dict[str, str]] = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            errors.append(_field_error(item))
    detail = exc.detail or "the request is not valid"
    if not errors:
        errors.append({"field": "body", "message": detail})
    return problem_response(
        request,
        status=exc.status_code,
        slug="validation",
        title=VALIDATION,
        detail=detail,
        errors=errors,
    )


_MISSING = re.compile(r"(?:missing required|contains unknown) field `([^`]+)`")
_PATTERN = re.compile(r"Expected `str` matching regex '(.*)'$")
#: msgspec quotes the pattern as Python's repr would (a backslash doubled).
_IN_WORDS = {repr(pattern)[1:-1]: words for pattern, words in pattern_descriptions().items()}
_AT = re.compile(r" - at `\$\.?([^`]*)`")


def _field_error(item: dict[str, Any]) -> dict[str, str]:
    """Name the field a Litestar/msgspec validation message is about: ``body.tickets[0].qty``.

    For a body, Litestar reports the handler argument (``data``) as the key; the field itself
    is in msgspec's message ("Object missing required field `slug` - at `$.venue`")."""
    source, key = item.get("source"), item.get("key")
    source = getattr(source, "value", source)  # Litestar's ParamType enum: "query", "path", ...
    message = str(item.get("message", ""))
    parts: list[str] = [str(source)] if source else []
    if source == "body":
        at = _AT.search(message)
        if at and at.group(1):
            parts.append(at.group(1))
        elif key and key != "data":  # "data" is the handler's argument, not a field
            parts.append(str(key))
        missing = _MISSING.search(message)
        if missing:
            parts.append(missing.group(1))
        message = _AT.sub("", message)
    pattern = _PATTERN.search(message)
    if pattern and pattern.group(1) in _IN_WORDS:
        message = f"expected {_IN_WORDS[pattern.group(1)]}"
    if source != "body" and key:
        parts.append(str(key))
    return {"field": ".".join(parts) or "body", "message": message}


def _not_found(request: Request[Any, Any, Any], exc: NotFoundException) -> Response[dict[str, Any]]:
    return problem_response(
        request,
        status=404,
        slug="not-found",
        title=NOT_FOUND,
        detail=f"nothing at {request.method} {request.url.path}",
    )


def _method(
    request: Request[Any, Any, Any], exc: MethodNotAllowedException
) -> Response[dict[str, Any]]:
    return problem_response(
        request,
        status=405,
        slug="method-not-allowed",
        title=METHOD_NOT_ALLOWED,
        detail=f"{request.method} is not allowed on {request.url.path}",
        headers=dict(exc.headers or {}),
    )


def _http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    if exc.status_code == 400:
        # Litestar's ClientException: a body that is not JSON, a bad header, ...
        return problem_response(
            request,
            status=400,
            slug="malformed-request",
            title=MALFORMED,
            detail=exc.detail or "",
            errors=[{"field": "body", "message": exc.detail or ""}],
        )
    slug = {
        401: "unauthorized",
        403: "forbidden",
        413: "too-large",
        415: "unsupported-media",
        429: "rate-limited",
    }.get(exc.status_code, "http-error")
    if exc.status_code >= 500:
        log.error("http_error", status=exc.status_code, detail=exc.detail, exc_info=exc)
    return problem_response(
        request,
        status=exc.status_code,
        slug=slug,
        title=exc.detail or "Error",
        detail=exc.detail or "",
        headers=dict(exc.headers or {}),
    )


def _concurrent_change(
    request: Request[Any, Any, Any], exc: IntegrityError
) -> Response[dict[str, Any]]:
    """A unique or foreign key rule of the database refused the write: a concurrent change
    got there first (two requests creating the same thing at once) or, once in a billion, a
    freshly drawn order number was taken. The transaction rolled back; sending the request
    again (with its Idempotency-Key) is the remedy."""
    log.warning("db.integrity_conflict", path=request.url.path, error=str(exc.orig)[:300])
    return problem_response(
        request,
        status=409,
        slug="concurrent-change",
        title=CONCURRENT_CHANGE,
        detail="Nothing was changed; send the request again.",
        extra={"rule": "concurrent_change"},
    )


def _database_error(request: Request[Any, Any, Any], exc: DBAPIError) -> Response[dict[str, Any]]:
    """A lost database connection (a restart, a network cut) is the service being briefly
    unavailable, not a bug: 503 with Retry-After (the pool has replaced the connection).
    So is a server refusing connections while it shuts down or starts up."""
    if not connection_lost(exc):
        return _unexpected(request, exc)
    return _database_unavailable(request, exc)


def _timed_out(request: Request[Any, Any, Any], exc: TimeoutError) -> Response[dict[str, Any]]:
    """A connection to the database that could not be made in time (it is restarting) is
    the database being unavailable; any other timeout that reaches here is a bug."""
    if waiting_for_database(exc):
        return _database_unavailable(request, exc)
    return _unexpected(request, exc)


def _database_unavailable(
    request: Request[Any, Any, Any], exc: Exception
) -> Response[dict[str, Any]]:
    """``ConnectionError`` too: a new connection refused or cut (the database is down); the
    drivers raise it as it is, not as a DBAPI error."""
    log.warning("db.connection_lost", path=request.url.path, error=str(exc)[:300])
    return problem_response(
        request,
        status=503,
        slug="database-unavailable",
        title=DATABASE_LOST,
        detail="The request may not have been carried out; send it again in a moment (with "
        "its Idempotency-Key, so that it is carried out once).",
        headers={"Retry-After": "1"},
    )


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.exception("unhandled_error", path=request.url.path, error_type=type(exc).__name__)
    return problem_response(
        request,
        status=HTTP_500_INTERNAL_SERVER_ERROR,
        slug="internal",
        title=INTERNAL,
        detail="Something went wrong on our side; the request id identifies it in our logs.",
    )


EXCEPTION_HANDLERS: dict[Any, Any] = {
    BoxofficeError: _domain,
    ValidationException: _validation,
    NotFoundException: _not_found,
    MethodNotAllowedException: _method,
    HTTPException: _http,
    IntegrityError: _concurrent_change,
    DBAPIError: _database_error,
    ConnectionError: _database_unavailable,
    TimeoutError: _timed_out,
    Exception: _unexpected,
}

__all__ = ["EXCEPTION_HANDLERS", "PROBLEM_JSON", "MediaType", "problem_response"]


def problem_titles() -> list[str]:
    """Every problem title there is (what each catalog must translate): the domain's error
    types, of the core and of the plugins imported, and this module's own."""
    found = {
        VALIDATION,
        NOT_FOUND,
        METHOD_NOT_ALLOWED,
        MALFORMED,
        CONCURRENT_CHANGE,
        DATABASE_LOST,
        INTERNAL,
    }
    pending: list[type[BoxofficeError]] = [BoxofficeError]
    while pending:
        kind = pending.pop()
        found.add(kind.title)
        pending.extend(kind.__subclasses__())
    return sorted(found)
