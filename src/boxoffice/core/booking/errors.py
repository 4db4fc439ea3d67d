"""Why the booking engine says no. Each refusal names the rule in ``extra["rule"]``."""

from __future__ import annotations

from boxoffice.core.errors import Conflict, RuleViolated


class SoldOut(Conflict):
    slug = "sold-out"
    title = "Not enough seats left"


class NotOnSale(Conflict):
    slug = "not-on-sale"
    title = "This is not on sale now"


class LimitExceeded(RuleViolated):
    slug = "limit-exceeded"
    title = "A ticket limit refuses this request"


class HoldExpired(Conflict):
    slug = "hold-expired"
    title = "The hold has expired"
