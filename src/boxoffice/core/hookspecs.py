"""The extension contract: every hook a plugin may implement.

A plugin is a module (or object) with functions marked ``@boxoffice.hookimpl`` whose names
are the hooks below, registered under the ``boxoffice`` entry-point group of its
distribution. A hook implementation may accept any subset of the hook's arguments.

**Registration hooks** (``register_*``) return provider objects that satisfy the protocols
of the core; routing (plugins.toml) decides which provider is used where. They are called
once each time a platform is assembled: once per process at start-up (every API worker
process, every ``boxoffice worker``, and every command that reads the configuration, such
as ``boxoffice plugins check``), never per request. Build clients there, but connect
lazily: a provider is also built by commands that never use it. Plugins are called in the
order of their names (entry points sorted by name), so a provider id taken by two plugins
is kept by the first and reported as a configuration problem naming both: the server
refuses to start until ops disable one (``[plugins] disabled``). A registration hook that
raises, or whose options do not convert (``context.options``), leaves that plugin's
providers of that kind out and shows the plugin as broken in ``boxoffice plugins list``.

**Reaction hooks** (``journal_entry_recorded``) are called by the journal dispatcher after
the transaction that recorded an entry committed; see its own documentation.

docs/plugins.md has a complete example plugin and its tests.
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
    from boxoffice.core.payments.gateway import PaymentAttempt, PaymentGateway
    from boxoffice.core.search.backend import SearchBackend
    from boxoffice.core.storage import Database
    from boxoffice.core.tickets.formats import TicketFormat

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
    """Return the payment gateways this plugin provides (:class:`boxoffice.PaymentGateway`).

    Which gateway an order may use is decided per region and currency by
    ``[[routing.payments]]`` in plugins.toml; a gateway that does not declare the currency
    (``currencies``) or the buyer's country (``countries``) is skipped. Options come from
    ``[providers.<id>]`` through ``context.options``. Conformance suite:
    :class:`boxoffice.testing.PaymentGatewayConformance`.

    Example::

        @hookimpl
        def register_payment_gateways(context):
            return [AcmePay(context.options("acmepay", AcmePayOptions))]
    """
    raise NotImplementedError


@hookspec
def register_notification_channels(context: PluginContext) -> Sequence[NotificationChannel]:
    """Return the notification channels (e-mail, SMS, ...) this plugin provides
    (:class:`boxoffice.NotificationChannel`).

    ``[[routing.notifications]]`` names the channels to try for a kind of message, in order,
    optionally per region. The outbox calls ``send`` after the transaction that queued the
    message committed, retrying temporary failures; a redelivery carries the same
    ``message_id``. Conformance suite: :class:`boxoffice.testing.NotificationChannelConformance`.
    """
    raise NotImplementedError


@hookspec
def register_compliance_regions(context: PluginContext) -> Sequence[ComplianceRegion]:
    """Return the compliance region packs this plugin provides
    (:class:`boxoffice.ComplianceRegion`): today the tax rules of a region's countries.

    A pack is used only when ops enable its id in ``[regions] enabled``. Events name their
    region; an event whose region no enabled pack provides is refused at creation,
    publication and checkout (never sold untaxed), and ``boxoffice plugins check`` lists
    such events. Conformance suite: :class:`boxoffice.testing.ComplianceRegionConformance`.
    """
    raise NotImplementedError


@hookspec
def register_search_backends(context: PluginContext) -> Sequence[SearchBackend]:
    """Return the search backends this plugin provides (:class:`boxoffice.SearchBackend`).

    ``[search] backend`` picks one; the journal keeps its index current (events published,
    changed or withdrawn). Conformance suite: :class:`boxoffice.testing.SearchBackendConformance`.
    """
    raise NotImplementedError


@hookspec
def register_identity_providers(context: PluginContext) -> Sequence[IdentityProvider]:
    """Return the sign-in providers (OAuth 2.0 / OpenID Connect) this plugin provides
    (:class:`boxoffice.IdentityProvider`). Each one listed at ``GET /api/v1/auth/oauth``;
    the browser starts at ``POST /api/v1/auth/oauth/<id>/start``."""
    raise NotImplementedError


@hookspec
def register_media_stores(context: PluginContext) -> Sequence[MediaStore]:
    """Return the stores that keep uploaded pictures (:class:`boxoffice.MediaStore`):
    a local directory, an S3-compatible bucket... ``[media] store`` picks one. Conformance
    suite: :class:`boxoffice.testing.MediaStoreConformance`."""
    raise NotImplementedError


@hookspec
def register_ticket_formats(context: PluginContext) -> Sequence[TicketFormat]:
    """Return the ticket formats this plugin draws (:class:`boxoffice.TicketFormat`): the
    bundled ``pdf``, a wallet pass... Each one is offered for every valid ticket at
    ``GET /api/v1/tickets/{credential}/formats/<id>``."""
    raise NotImplementedError


@hookspec
def assess_payment_risk(attempt: PaymentAttempt) -> str | None:
    """Look at a payment about to be started (:class:`boxoffice.PaymentAttempt`: amount,
    gateway, buyer, client address, earlier attempts) and return a reason to refuse it, or
    ``None`` to let it go. Every implementation is asked; any reason refuses the attempt
    (403 ``payment-refused``, the reason logged, a generic message to the buyer). Runs in
    the request: keep it quick (a lookup, not a remote call), and never raise."""
    raise NotImplementedError


@hookspec
def journal_entry_recorded(entry: RecordedEntry) -> Awaitable[Any] | None:
    """React to something that happened (an order placed or confirmed, an event published...).

    Each plugin implementing this hook is a journal subscriber of its own
    (``plugin:<name>``), with its own cursor: it receives every entry recorded after the
    plugin was first installed (not the history before it), in the order they were
    recorded, each **at least once**, after the entry's transaction committed. It runs in a
    process that runs the dispatcher (the API processes, or ``boxoffice worker``), one
    process at a time per subscriber (a lease). A call that raises is retried with
    exponential backoff and jitter (1 s doubling up to 10 minutes); after 8 failed attempts
    the entry goes to the dead-letter table and the subscriber moves on. The next entry
    waits for the one being retried: a slow or failing plugin delays only itself. So make
    it idempotent (``entry.entry_id`` is stable across redeliveries) and quick, and do not
    raise for entries you do not care about: look at ``entry.type`` first. May be a
    coroutine function.
    """
    raise NotImplementedError
