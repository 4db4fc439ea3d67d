"""Typed domain errors.

Every error a caller can provoke is a subclass of :class:`BoxofficeError` with a stable
``type`` slug; ``api/`` turns it into an RFC 9457 problem+json response. Services raise
these and nothing else for expected failures, so no input can surface as a 500.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import msgspec

PROBLEM_BASE = "https://boxoffice.dev/problems/"


class FieldError(msgspec.Struct, frozen=True):
    """One invalid input field: ``field`` is a dotted path such as ``body.tickets[0].quantity``."""

    field: str
    message: str


class BoxofficeError(Exception):
    """Base of every expected error. Subclasses set ``slug``, ``status`` and ``title``."""

    slug: ClassVar[str] = "error"
    status: ClassVar[int] = 400
    title: ClassVar[str] = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        errors: Sequence[FieldError] = (),
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors)
        self.extra = dict(extra or {})

    @property
    def type_uri(self) -> str:
        return PROBLEM_BASE + self.slug


class ValidationFailed(BoxofficeError):
    slug = "validation"
    status = 400
    title = "The request is not valid"


class NotFound(BoxofficeError):
    slug = "not-found"
    status = 404
    title = "Not found"


class Conflict(BoxofficeError):
    slug = "conflict"
    status = 409
    title = "Conflict with the current state"


class RuleViolated(BoxofficeError):
    """A business rule refuses an otherwise well-formed request (422)."""

    slug = "rule-violated"
    status = 422
    title = "A business rule refuses this request"


class InvalidTransition(Conflict):
    slug = "invalid-transition"
    title = "This state change is not allowed"


class ConfigurationError(BoxofficeError):
    """plugins.toml or the environment is wrong; raised at start-up and by ``plugins check``."""

    slug = "configuration"
    status = 500
    title = "The platform is misconfigured"


class DatabaseNotMigrated(BoxofficeError):
    slug = "database-not-migrated"
    status = 503
    title = "The database schema is not at the expected revision"


class ProviderUnavailable(BoxofficeError):
    slug = "provider-unavailable"
    status = 503
    title = "No provider is available for this request"


class NotRouted(ProviderUnavailable):
    """No routing rule names any provider for this kind of thing at all (as opposed to the
    providers it names being unavailable now)."""


class Unauthorized(BoxofficeError):
    """No valid credentials (401). Messages stay generic: they never say which part was wrong."""

    slug = "unauthorized"
    status = 401
    title = "Authentication required"


class Forbidden(BoxofficeError):
    slug = "forbidden"
    status = 403
    title = "Not allowed"


class WebhookRejected(BoxofficeError):
    """A provider's webhook that cannot be trusted: no signature, a wrong one, a stale
    timestamp, or a body that does not parse. Nothing is changed; the provider retries."""

    slug = "webhook-rejected"
    status = 400
    title = "The webhook was not accepted"
