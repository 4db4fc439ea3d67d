"""What the OpenAPI document says beyond the handlers' own types: the RFC 9457 problem
every error is, which errors each operation can give, and how callers authenticate.

Litestar documents a generic JSON 400 for every operation; our errors are
``application/problem+json`` with a stable ``type``. Rather than repeat ``responses=`` on
eighty handlers, the rules are stated once here and applied to the generated document: an
operation whose handler needs the caller (it asks for ``principal``, ``user``,
``admin_user``, ``role``, ``event`` or ``order``) may answer 401 and 403 and names the
security schemes; one with path parameters may answer 404; one that writes may answer 409
and 422; the rate-limited ones 429; every one 400, 500 and 503. Client generators and the
docs page read them; the fuzz gate checks every answer against them.
"""

from __future__ import annotations

import inspect
from typing import Any

from litestar import Litestar, Request
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.plugins import JsonRenderPlugin

PROBLEM_MEDIA_TYPE = "application/problem+json"
CALLER_DEPENDENCIES = frozenset(
    {"principal", "user", "admin_user", "role", "event", "order", "admission"}
)
#: Operations with an abuse limit (see ``api/identity.py``; a person keeps at most three
#: copies of their data pending or ready).
RATE_LIMITED = frozenset(
    {
        "/api/v1/auth/login",
        "/api/v1/auth/register",
        "/api/v1/auth/password/forgot",
        "/api/v1/me/data-exports",
    }
)
#: Operations that answer a problem the rules above do not foresee: the ones that take a
#: credential in their body or query (a password, a refresh token, a signed link) refuse a
#: wrong one with 401 or 404 although they need no signed-in caller.
EXTRA_PROBLEMS: dict[str, frozenset[str]] = {
    "/api/v1/auth/login": frozenset({"401"}),
    "/api/v1/auth/refresh": frozenset({"401"}),
    "/api/v1/notifications/unsubscribe": frozenset({"404"}),
}
#: GET operations that answer server-sent events, not JSON; each event's schema.
SERVER_SENT_EVENT: dict[str, Any] = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {"event": {"type": "string"}, "data": {"type": "string"}},
}
STREAMS = frozenset({"/api/v1/organizations/{org_id}/events/{event_id}/analytics/live"})
SECURITY: list[dict[str, list[str]]] = [{"accessToken": []}, {"apiKey": []}]

PROBLEM: dict[str, Any] = {
    "type": "object",
    "description": "An RFC 9457 problem: branch on `type`; `errors` names each bad field.",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "request_id": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "additionalProperties": True,
}
SECURITY_SCHEMES: dict[str, Any] = {
    "accessToken": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An access token from POST /api/v1/auth/login",
    },
    "apiKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "An organization's API key (bxk_...), sent as a bearer token",
    },
}

DESCRIPTIONS = {
    "400": "The request is not valid (`validation`, `malformed-request`)",
    "401": "No valid access token or API key (`unauthorized`)",
    "403": "The caller may not do this (`forbidden`)",
    "404": "Not found, or not the caller's (`not-found`)",
    "409": "Conflicts with the current state (`conflict`, `sold-out`, `concurrent-change`...)",
    "422": "A business rule refuses it; `rule` names it (`rule-violated`...)",
    "429": "Too many requests; `Retry-After` says when to try again (`rate-limited`)",
    "500": "Our fault, never the input's: report the `request_id` (`internal`)",
    "503": "The database or a provider is unavailable; retry (`database-unavailable`)",
}


class ProblemDocumentedJson(JsonRenderPlugin):
    """Serves ``/schema/openapi.json`` with :func:`document_problems` applied, once, when it
    is first asked for (generating the document costs ~0.1 s: not at every start-up)."""

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        document_problems(request.app, openapi_schema)
        return super().render(request, openapi_schema)


def document_problems(app: Litestar, document: dict[str, Any]) -> None:
    """State the problems and security schemes in ``document`` (``app``'s OpenAPI document
    as a dictionary). Applying it twice changes nothing."""
    components = document.setdefault("components", {})
    if "Problem" in components.get("schemas", {}):
        return
    components.setdefault("schemas", {})["Problem"] = PROBLEM
    components["securitySchemes"] = SECURITY_SCHEMES
    secured = _secured_operations(app)
    problem = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, item in document.get("paths", {}).items():
        for method in ("get", "post", "put", "patch", "delete"):
            operation = item.get(method)
            if operation is None:
                continue
            codes = {"400", "500", "503"}
            if (path, method.upper()) in secured:
                codes |= {"401", "403"}
                operation["security"] = SECURITY
            if "{" in path:
                codes.add("404")
            if method != "get":
                codes |= {"409", "422"}
            if path in RATE_LIMITED:
                codes.add("429")
            codes |= EXTRA_PROBLEMS.get(path, frozenset())
            responses = operation.setdefault("responses", {})
            if path in STREAMS and method == "get":
                for answer in responses.values():
                    if "content" in answer:
                        answer["content"] = {"text/event-stream": {"schema": SERVER_SENT_EVENT}}
            for code in sorted(codes):
                responses[code] = {"description": DESCRIPTIONS[code], "content": problem}


def _secured_operations(app: Litestar) -> set[tuple[str, str]]:
    """(OpenAPI path, method) of every operation whose handler needs the caller."""
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if not isinstance(handler, HTTPRouteHandler):
                continue
            if CALLER_DEPENDENCIES & set(inspect.signature(handler.fn).parameters):
                path = _openapi_path(route.path)
                found |= {(path, method) for method in handler.http_methods}
    return found


def _openapi_path(path: str) -> str:
    """``/organizations/{org_id:uuid}`` as OpenAPI writes it: ``/organizations/{org_id}``."""
    parts = []
    for part in path.split("/"):
        if part.startswith("{") and ":" in part:
            part = part.split(":", 1)[0] + "}"
        parts.append(part)
    return "/".join(parts)
