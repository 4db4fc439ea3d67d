"""Which provider serves a request, from plugins.toml's ``[[routing.*]]`` rules.

The most specific matching rule wins: region+currency, then currency, then region, then
the default (a rule with neither). Within a rule providers are tried in the order listed;
one that does not support the currency or the buyer's country is skipped, and so is one the
caller reports as unavailable (its circuit breaker is open). If every provider of the most
specific rule is skipped, the next less specific rule is tried.
"""

from __future__ import annotations

from collections.abc import Callable

from boxoffice.core.compliance.region import ComplianceRegion
from boxoffice.core.errors import NotFound, NotRouted, ProviderUnavailable
from boxoffice.core.media.store import MediaStore
from boxoffice.core.notify.channel import NotificationChannel
from boxoffice.core.payments.gateway import PaymentGateway, authenticates_strongly, supports
from boxoffice.core.search.backend import SearchBackend
from boxoffice.plugins.config import NotificationRule, PaymentRule, PluginsConfig
from boxoffice.plugins.manager import Providers

Available = Callable[[str], bool]


def _always(_provider_id: str) -> bool:
    return True


def _payment_specificity(rule: PaymentRule) -> int:
    return (2 if rule.currency else 0) + (1 if rule.region else 0)


class Router:
    def __init__(self, config: PluginsConfig, providers: Providers) -> None:
        self.config = config
        self.providers = providers
        self._payment_rules = sorted(
            config.routing.payments, key=_payment_specificity, reverse=True
        )
        self._notification_rules = sorted(
            config.routing.notifications, key=lambda r: r.region is not None, reverse=True
        )

    def payment_gateways(
        self,
        *,
        region: str | None,
        currency: str,
        country: str | None = None,
        available: Available = _always,
    ) -> list[PaymentGateway]:
        """The gateways to offer, best first; raises if none can take this payment. Where
        the region's law requires strong customer authentication, only gateways that run it
        (or take no card) are offered."""
        pack = self.region_or_none(region) if region is not None else None
        strict = pack is not None and pack.business_rules.strong_customer_authentication
        for rule in self._payment_rules:
            if rule.region not in (None, region) or rule.currency not in (None, currency):
                continue
            gateways = [
                self.providers.payment[pid]
                for pid in rule.providers
                if pid in self.providers.payment
                and supports(self.providers.payment[pid], currency, country)
                and (not strict or authenticates_strongly(self.providers.payment[pid]))
                and available(pid)
            ]
            if gateways:
                return gateways
        raise ProviderUnavailable(
            f"no payment gateway is available for {currency} in region {region or '(none)'}"
            + (f", country {country}" if country else ""),
            extra={"currency": currency, "region": region},
        )

    def notification_channels(
        self, *, kind: str, region: str | None = None, available: Available = _always
    ) -> list[NotificationChannel]:
        rules: list[NotificationRule] = [r for r in self._notification_rules if r.kind == kind]
        if not rules:
            raise NotRouted(f"no routing rule for {kind!r} messages in plugins.toml")
        for rule in rules:
            if rule.region not in (None, region):
                continue
            channels = [
                self.providers.notification[pid]
                for pid in rule.providers
                if pid in self.providers.notification and available(pid)
            ]
            if channels:
                return channels
        raise ProviderUnavailable(
            f"no notification channel delivers {kind!r} messages"
            + (f" in region {region}" if region else "")
        )

    def search_backend(self) -> SearchBackend | None:
        """The configured backend; with none configured, the only one installed, if one."""
        if self.config.search.backend is not None:
            return self.providers.search.get(self.config.search.backend)
        if len(self.providers.search) == 1:
            return next(iter(self.providers.search.values()))
        return None

    def media_store(self) -> MediaStore:
        """The configured store; with none configured, the only one installed."""
        wanted = self.config.media.store
        if wanted is not None and wanted in self.providers.media:
            return self.providers.media[wanted]
        if wanted is None and len(self.providers.media) == 1:
            return next(iter(self.providers.media.values()))
        raise ProviderUnavailable("no media store is configured ([media] store in plugins.toml)")

    def region(self, region_id: str) -> ComplianceRegion:
        if region_id not in self.config.regions.enabled or region_id not in self.providers.region:
            raise NotFound(f"the region {region_id!r} is not enabled on this platform")
        return self.providers.region[region_id]

    def region_or_none(self, region_id: str) -> ComplianceRegion | None:
        """The enabled pack ``region_id``, or ``None``: the core's region lookup."""
        try:
            return self.region(region_id)
        except NotFound:
            return None

    def enabled_regions(self) -> list[ComplianceRegion]:
        return [
            self.providers.region[r]
            for r in self.config.regions.enabled
            if r in self.providers.region
        ]
