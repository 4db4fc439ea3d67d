"""Finding, loading and validating plugins, and collecting the providers they register.

Plugins come from the ``boxoffice`` entry-point group: the bundled ones are registered in
our own pyproject.toml exactly as a third party's ``pip install boxoffice-foo`` registers
its own. Tests and the plugin harness may also pass plugin objects directly.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import msgspec
import pluggy

from boxoffice.core import hookspecs
from boxoffice.core.clock import Clock
from boxoffice.core.compliance.region import ComplianceRegion
from boxoffice.core.identity.provider import IdentityProvider
from boxoffice.core.media.store import MediaStore
from boxoffice.core.money import is_currency
from boxoffice.core.notify.channel import NotificationChannel
from boxoffice.core.notify.rendering import available_locales
from boxoffice.core.payments.gateway import PaymentGateway, authenticates_strongly, supports
from boxoffice.core.search.backend import SearchBackend
from boxoffice.core.storage import Database
from boxoffice.core.tickets.formats import TicketFormat
from boxoffice.plugins.config import (
    KeyPath,
    LoadedConfig,
    PaymentRule,
    Problem,
    path_of_validation_error,
    resolve_secrets,
)

ENTRY_POINT_GROUP = "boxoffice"
OptionsT = TypeVar("OptionsT")

#: The registration hooks, the protocol each result must satisfy, and a name for messages.
KINDS: dict[str, tuple[str, type[Any]]] = {
    "payment": ("register_payment_gateways", PaymentGateway),
    "notification": ("register_notification_channels", NotificationChannel),
    "region": ("register_compliance_regions", ComplianceRegion),
    "search": ("register_search_backends", SearchBackend),
    "identity": ("register_identity_providers", IdentityProvider),
    "media": ("register_media_stores", MediaStore),
    "ticket_format": ("register_ticket_formats", TicketFormat),
}


class PluginInfo(msgspec.Struct):
    name: str
    module: str
    distribution: str  # "boxoffice 0.1.0", or "(passed directly)"
    enabled: bool
    hooks: list[str] = []
    providers: list[str] = []  # "payment:offline", ...
    error: str = ""


class Providers(msgspec.Struct):
    """Every provider the enabled plugins registered, by kind and id."""

    payment: dict[str, PaymentGateway] = {}
    notification: dict[str, NotificationChannel] = {}
    region: dict[str, ComplianceRegion] = {}
    search: dict[str, SearchBackend] = {}
    identity: dict[str, IdentityProvider] = {}
    media: dict[str, MediaStore] = {}
    ticket_format: dict[str, TicketFormat] = {}
    #: "kind:id" -> the plugin that registered it
    origin: dict[str, str] = {}

    def by_kind(self, kind: str) -> dict[str, Any]:
        result: dict[str, Any] = getattr(self, kind)
        return result

    def all(self) -> list[tuple[str, str, Any]]:
        return [(kind, pid, p) for kind in KINDS for pid, p in self.by_kind(kind).items()]


class _Context:
    """The :class:`~boxoffice.core.hookspecs.PluginContext` handed to registration hooks."""

    def __init__(
        self,
        loaded: LoadedConfig,
        data_dir: Path,
        clock: Clock,
        database: Database,
        environ: Mapping[str, str],
        public_url: str,
    ) -> None:
        self._loaded = loaded
        self._public_url = public_url
        self._data_dir = data_dir
        self._clock = clock
        self._database = database
        self._environ = environ
        self.problems: list[Problem] = []
        self.requested: set[str] = set()

    @property
    def data_dir(self) -> Path:
        return self._data_dir

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def database(self) -> Database:
        return self._database

    @property
    def public_url(self) -> str:
        return self._public_url

    def configured(self) -> list[str]:
        return sorted(self._loaded.config.providers)

    def options(self, provider_id: str, options_type: type[OptionsT]) -> OptionsT:
        self.requested.add(provider_id)
        base: KeyPath = ("providers", provider_id)
        raw = self._loaded.config.providers.get(provider_id, {})
        missing: list[tuple[KeyPath, str]] = []
        resolved = resolve_secrets(raw, base, self._environ, missing)
        for path, message in missing:
            self.problems.append(self._loaded.problem(path, message))
        if missing:
            raise OptionsInvalid(provider_id)
        try:
            return msgspec.convert(resolved, options_type, strict=False)
        except msgspec.ValidationError as error:
            path, message = path_of_validation_error(error)
            self.problems.append(self._loaded.problem((*base, *path), message))
            raise OptionsInvalid(provider_id) from error


class OptionsInvalid(Exception):
    """Raised out of a registration hook when its options are wrong; the problem is already
    recorded against the key, so the loader skips that plugin's providers and goes on."""


class PluginSet:
    """The loaded plugins, the providers they registered and every configuration problem."""

    def __init__(
        self,
        manager: pluggy.PluginManager,
        info: list[PluginInfo],
        providers: Providers,
        problems: list[Problem],
        loaded: LoadedConfig,
    ) -> None:
        self.manager = manager
        self.info = info
        self.providers = providers
        self.problems = problems
        self.loaded = loaded

    @property
    def hook(self) -> Any:
        return self.manager.hook

    def journal_hook_callers(self) -> list[tuple[str, Callable[..., Any]]]:
        """(plugin name, implementation) of every ``journal_entry_recorded`` implementation:
        each becomes its own journal subscriber with its own retries."""
        impls = self.manager.hook.journal_entry_recorded.get_hookimpls()
        return [(impl.plugin_name, impl.function) for impl in impls]


def _identity(obj: object) -> object:
    return obj


def discover_entry_points() -> list[importlib.metadata.EntryPoint]:
    return sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)


def load_plugins(
    loaded: LoadedConfig,
    *,
    data_dir: Path,
    clock: Clock,
    database: Database,
    extra_plugins: Sequence[tuple[str, object]] = (),
    use_entry_points: bool = True,
    environ: Mapping[str, str] | None = None,
    public_url: str = "http://127.0.0.1:8000",
) -> PluginSet:
    """Load and register the enabled plugins, collect their providers, validate the config."""
    config = loaded.config
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    problems: list[Problem] = []
    info: list[PluginInfo] = []
    candidates: list[tuple[str, Callable[[], object], str, str]] = []
    if use_entry_points:
        for ep in discover_entry_points():
            dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist else "(unknown distribution)"
            candidates.append((ep.name, ep.load, ep.value, dist))
    for name, obj in extra_plugins:
        candidates.append(
            (
                name,
                functools.partial(_identity, obj),
                getattr(obj, "__name__", repr(obj)),
                "(passed directly)",
            )
        )

    names = {name for name, *_ in candidates}
    for index, name in enumerate(config.plugins.enabled or []):
        if name not in names:
            problems.append(
                loaded.problem(
                    ("plugins", "enabled", index), f"no installed plugin is named {name!r}"
                )
            )
    for index, name in enumerate(config.plugins.disabled):
        if name not in names:
            problems.append(
                loaded.problem(
                    ("plugins", "disabled", index), f"no installed plugin is named {name!r}"
                )
            )

    for name, load, module, dist in candidates:
        enabled = name not in config.plugins.disabled and (
            config.plugins.enabled is None or name in config.plugins.enabled
        )
        entry = PluginInfo(name=name, module=module, distribution=dist, enabled=enabled)
        info.append(entry)
        if not enabled:
            continue
        try:
            plugin = load()
            manager.register(plugin, name=name)
        except Exception as error:  # a broken third-party plugin must not hide the others
            entry.error = f"failed to load: {type(error).__name__}: {error}"
            problems.append(Problem("plugins", f"plugin {name!r} {entry.error}", file=loaded.file))
            continue
        entry.hooks = sorted(caller.name for caller in manager.get_hookcallers(plugin) or [])

    context = _Context(
        loaded, data_dir, clock, database, os.environ if environ is None else environ, public_url
    )
    providers = _collect(manager, context, info, problems, loaded)
    problems.extend(context.problems)
    problems.extend(validate(loaded, providers, context.requested))
    return PluginSet(manager, info, providers, problems, loaded)


def _collect(
    manager: pluggy.PluginManager,
    context: _Context,
    info: list[PluginInfo],
    problems: list[Problem],
    loaded: LoadedConfig,
) -> Providers:
    providers = Providers()
    by_name = {entry.name: entry for entry in info}
    for kind, (hook_name, protocol) in KINDS.items():
        for impl in getattr(manager.hook, hook_name).get_hookimpls():
            plugin = impl.plugin_name
            args = {"context": context}
            recorded = len(context.problems)
            try:
                results = impl.function(*[args[a] for a in impl.argnames]) or []
            except OptionsInvalid:
                # Shown as broken with the reason ``plugins check`` gives (an unset secret...).
                reasons = "; ".join(str(p) for p in context.problems[recorded:])
                by_name[plugin].error = f"{hook_name}: options not valid: {reasons}"
                continue
            except Exception as error:
                failure = f"{hook_name} failed: {type(error).__name__}: {error}"
                by_name[plugin].error = failure
                problems.append(
                    Problem("plugins", f"plugin {plugin!r}: {failure}", file=loaded.file)
                )
                continue
            for provider in results:
                pid = getattr(provider, "id", None)
                if not isinstance(provider, protocol) or not isinstance(pid, str):
                    problems.append(
                        Problem(
                            "plugins",
                            f"plugin {plugin!r} returned "
                            f"{provider!r} from {hook_name}, which does not "
                            f"satisfy {protocol.__name__}",
                            file=loaded.file,
                        )
                    )
                    continue
                registered = providers.by_kind(kind)
                if pid in registered:
                    problems.append(
                        Problem(
                            "plugins",
                            f"{kind} provider id {pid!r} is "
                            f"registered by both {providers.origin[kind + ':' + pid]!r}"
                            f" and {plugin!r}: disable one",
                            file=loaded.file,
                        )
                    )
                    continue
                registered[pid] = provider
                providers.origin[f"{kind}:{pid}"] = plugin
                by_name[plugin].providers.append(f"{kind}:{pid}")
    return providers


def validate(loaded: LoadedConfig, providers: Providers, requested: set[str]) -> list[Problem]:
    """Cross-check plugins.toml against what the enabled plugins registered."""
    config = loaded.config
    problems: list[Problem] = []
    known_ids = {pid for _, pid, _ in providers.all()}
    for pid in config.providers:
        if pid in requested and pid not in known_ids:
            continue  # its plugin asked for these options; their problem is reported already
        if pid not in known_ids:
            problems.append(
                loaded.problem(
                    ("providers", pid),
                    f"no enabled plugin provides {pid!r} "
                    f"(known: {', '.join(sorted(known_ids)) or 'none'})",
                )
            )
    claimed: dict[str, str] = {}  # country -> the first enabled region that covers it
    for index, region in enumerate(config.regions.enabled):
        pack = providers.region.get(region)
        if pack is None:
            problems.append(
                loaded.problem(
                    ("regions", "enabled", index),
                    f"no enabled plugin provides the region {region!r}",
                )
            )
            continue
        overlap = sorted(c for c in pack.countries if claimed.setdefault(c, region) != region)
        if overlap:
            others = sorted({claimed[c] for c in overlap})
            problems.append(
                loaded.problem(
                    ("regions", "enabled", index),
                    f"the region {region!r} covers {', '.join(overlap)}, as "
                    f"{', '.join(map(repr, others))} does: a country's events would be taxed by "
                    "two packs' rules; enable one of them",
                )
            )
        untranslated = {
            place: sorted(set(languages) - available_locales())
            for place, languages in pack.business_rules.languages.items()
        }
        for place, languages in sorted(untranslated.items()):
            if languages:
                problems.append(
                    loaded.problem(
                        ("regions", "enabled", index),
                        f"the region {region!r} must offer {', '.join(languages)} in {place} "
                        "and the platform has no catalog for it",
                    )
                )
    if config.media.store is not None and config.media.store not in providers.media:
        problems.append(
            loaded.problem(
                ("media", "store"),
                f"no enabled plugin provides the media store {config.media.store!r}",
            )
        )
    if config.search.backend is not None and config.search.backend not in providers.search:
        problems.append(
            loaded.problem(
                ("search", "backend"),
                f"no enabled plugin provides the search backend {config.search.backend!r}",
            )
        )
    seen: dict[tuple[str | None, str | None], int] = {}
    for index, rule in enumerate(config.routing.payments):
        problems.extend(_check_payment_rule(loaded, providers, index, rule, seen))
    for index, notification_rule in enumerate(config.routing.notifications):
        base: KeyPath = ("routing", "notifications", index)
        if notification_rule.region is not None and notification_rule.region not in (
            config.regions.enabled
        ):
            problems.append(
                loaded.problem(
                    (*base, "region"),
                    f"region {notification_rule.region!r} is not in regions.enabled",
                )
            )
        for i, pid in enumerate(notification_rule.providers):
            channel = providers.notification.get(pid)
            if channel is None:
                problems.append(
                    loaded.problem((*base, "providers", i), f"unknown notification channel {pid!r}")
                )
            elif notification_rule.kind not in channel.kinds:
                problems.append(
                    loaded.problem(
                        (*base, "providers", i),
                        f"{pid!r} cannot deliver {notification_rule.kind!r}"
                        f" messages (it does {sorted(channel.kinds)})",
                    )
                )
    return problems


def _check_payment_rule(
    loaded: LoadedConfig,
    providers: Providers,
    index: int,
    rule: PaymentRule,
    seen: dict[tuple[str | None, str | None], int],
) -> list[Problem]:
    base: KeyPath = ("routing", "payments", index)
    problems: list[Problem] = []
    key = (rule.region, rule.currency)
    if key in seen:
        problems.append(
            loaded.problem(
                base,
                f"same region and currency as routing.payments[{seen[key]}]: merge the two rules",
            )
        )
    seen.setdefault(key, index)
    if rule.region is not None and rule.region not in loaded.config.regions.enabled:
        problems.append(
            loaded.problem((*base, "region"), f"region {rule.region!r} is not in regions.enabled")
        )
    if rule.currency is not None and not is_currency(rule.currency):
        problems.append(
            loaded.problem(
                (*base, "currency"), f"{rule.currency!r} is not an ISO 4217 currency code"
            )
        )
        return problems
    if not rule.providers:
        problems.append(loaded.problem((*base, "providers"), "list at least one gateway"))
    for i, pid in enumerate(rule.providers):
        if pid not in providers.payment:
            problems.append(
                loaded.problem(
                    (*base, "providers", i),
                    f"unknown payment gateway {pid!r} (known: "
                    f"{', '.join(sorted(providers.payment)) or 'none'})",
                )
            )
    pack = providers.region.get(rule.region) if rule.region is not None else None
    if pack is not None and pack.business_rules.strong_customer_authentication:
        for i, pid in enumerate(rule.providers):
            gateway = providers.payment.get(pid)
            if gateway is not None and not authenticates_strongly(gateway):
                problems.append(
                    loaded.problem(
                        (*base, "providers", i),
                        f"{pid!r} does not run strong customer authentication, which the law "
                        f"of region {rule.region!r} requires of card payments: it would never "
                        "be offered there",
                    )
                )
    gateways = [providers.payment[p] for p in rule.providers if p in providers.payment]
    if rule.currency and gateways and not any(supports(g, rule.currency, None) for g in gateways):
        problems.append(
            loaded.problem(
                (*base, "currency"), f"none of {', '.join(rule.providers)} supports {rule.currency}"
            )
        )
    return problems


#: Hosts of a public URL that only its own machine reaches: a developer's setup.
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})  # noqa: S104


def is_development(public_url: str) -> bool:
    """Whether the platform's public URL is one only this machine (or a ``.test`` /
    ``.localhost`` name) reaches."""
    host = (urlsplit(public_url).hostname or "").lower()
    return host in _LOCAL_HOSTS or host.endswith((".localhost", ".test"))


def warnings(
    loaded: LoadedConfig, public_url: str, regions: Sequence[ComplianceRegion] = ()
) -> list[Problem]:
    """What works but should not be left so, on a public deployment: the ``log`` channel
    (which writes whole messages, secret links included, to disk) routed for e-mail; an
    enabled region whose law wants personal data kept within it (ops must host the
    database, its backups and its replicas there: the platform cannot tell where it runs)."""
    found: list[Problem] = []
    if is_development(public_url):
        return found
    for region in regions:
        if region.privacy.data_residency:
            index = loaded.config.regions.enabled.index(region.id)
            found.append(
                loaded.problem(
                    ("regions", "enabled", index),
                    f"the region {region.id!r} ({region.privacy.law}) wants personal data kept "
                    f"in {region.privacy.data_residency}: host the database, its backups and "
                    "replicas there",
                )
            )
    for index, rule in enumerate(loaded.config.routing.notifications):
        if rule.kind == "email" and "log" in rule.providers:
            found.append(
                loaded.problem(
                    ("routing", "notifications", index, "providers", rule.providers.index("log")),
                    f"the log channel carries e-mail at {public_url}: it writes whole messages, "
                    "links to orders and password resets included, to disk and sends nothing. "
                    "Route e-mail to smtp or ses outside development.",
                )
            )
    return found
