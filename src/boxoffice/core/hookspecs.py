"""The extension contract: every hook a plugin may implement.

A plugin is a module (or object) with functions marked ``@boxoffice.hookimpl`` whose names
are the hooks below, registered under the ``boxoffice`` entry-point group of its
distribution. A hook implementation may accept any subset of the hook's arguments.

Registration hooks return provider objects that satisfy the protocols of the core; the
plugin manager collects them, and routing (plugins.toml) decides which is used where.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import pluggy

if TYPE_CHECKING:
    from boxoffice.core.clock import Clock
    from boxoffice.core.compliance.region import ComplianceRegion
    from boxoffice.core.identity.provider import IdentityProvider
    from boxoffice.core.journal.entries import RecordedEntry
    from boxoffice.core.media.store import MediaStore
    from boxoffice.core.notify.channel import NotificationChannel
    from boxoffice.core.payments.gateway import PaymentGateway
    from boxoffice.core.search.backend import SearchBackend
    from boxoffice.core.storage import Database

PROJECT = "boxoffice"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

OptionsT = TypeVar("OptionsT")


class PluginContext(Protocol):
    """What a plugin is given when it builds its providers."""

    @property
    def data_dir(self) -> Path:
        """A directory the platform owns; a plugin may keep files below ``data_dir/<id>``."""
        ...

    @property
    def clock(self) -> Clock: ...

    @property
    def database(self) -> Database:
        """The platform database. Only a provider whose job *is* the database uses it (the
        bundled ``dbsearch`` index); every other provider gets what it needs as arguments."""
        ...

    @property
    def public_url(self) -> str:
        """Where people reach the platform (for redirect and webhook URLs)."""
        ...

    def configured(self) -> list[str]:
        """The provider ids that have a ``[providers.<id>]`` table in plugins.toml."""
        ...

    def options(self, provider_id: str, options_type: type[OptionsT]) -> OptionsT:
        """The ``[providers.<provider_id>]`` table of plugins.toml, converted to ``options_type``
        (a msgspec Struct) with ``env:NAME`` references resolved. A wrong or missing option is
        reported against its key and line in plugins.toml."""
        ...


@hookspec
def register_payment_gateways(context: PluginContext) -> Sequence[PaymentGateway]:
    """Return the payment gateways this plugin provides.

    Example::

        @hookimpl
        def register_payment_gateways(context):
            return [AcmePayGateway(context.options("acmepay", AcmePayOptions))]
    """
    raise NotImplementedError


@hookspec
def register_notification_channels(context: PluginContext) -> Sequence[NotificationChannel]:
    """Return the notification channels (e-mail, SMS, ...) this plugin provides."""
    raise NotImplementedError


@hookspec
def register_compliance_regions(context: PluginContext) -> Sequence[ComplianceRegion]:
    """Return the compliance region packs (tax, retention, consent) this plugin provides."""
    raise NotImplementedError


@hookspec
def register_search_backends(context: PluginContext) -> Sequence[SearchBackend]:
    """Return the search backends this plugin provides."""
    raise NotImplementedError


@hookspec
def register_identity_providers(context: PluginContext) -> Sequence[IdentityProvider]:
    """Return the sign-in providers (OAuth 2.0 / OpenID Connect) this plugin provides."""
    raise NotImplementedError


@hookspec
def register_media_stores(context: PluginContext) -> Sequence[MediaStore]:
    """Return the stores (local directory, S3-compatible, ...) that keep uploaded images."""
    raise NotImplementedError


@hookspec
def journal_entry_recorded(entry: RecordedEntry) -> Awaitable[Any] | None:
    """React to something that happened (an order confirmed, a ticket checked in, ...).

    Called by the journal dispatcher after the entry's transaction committed, at least once
    per plugin: a failure is retried with backoff, then dead-lettered, so make it idempotent
    (``entry.entry_id`` is stable). May be a coroutine function.
    """
    raise NotImplementedError
