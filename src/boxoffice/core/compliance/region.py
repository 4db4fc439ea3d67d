"""The compliance region protocol: what a region pack (EU, UK, CA, ...) states."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Protocol, runtime_checkable

import msgspec

from boxoffice.core.errors import FieldError, RuleViolated
from boxoffice.core.fields import PercentText, SingleLine
from boxoffice.core.money import Money

#: The tax categories an organizer picks per ticket type (``TicketType.tax_category``): a
#: pack taxes each by its law, and a category it does not distinguish as ``standard``.
STANDARD, CULTURE, SPORT = "standard", "culture", "sport"
TAX_CATEGORIES = {
    STANDARD: "admission or a service taxed at the general rate (a conference, a workshop)",
    CULTURE: "admission to a concert, play, dance, circus, show, exhibition or museum "
    "(reduced rates in most EU states, exempt in Switzerland, exempt up to INR 500 in India)",
    SPORT: "admission to a sporting event (India: 40 % for leagues such as the IPL)",
}


class TaxComponent(msgspec.Struct, frozen=True, kw_only=True):
    """One tax of a treatment: Québec charges two (GST and QST), most places one."""

    name: str  # "VAT", "GST", "HST", "QST", "CGST", ...
    #: Who levies it, as the invoice names it: "CA" for the GST, "CA-QC" for the QST.
    jurisdiction: str
    percent: Decimal
    #: Where the rate is published (a URL), for the invoice's reader and the reviewer.
    source: str = ""


class TaxQuery(msgspec.Struct, frozen=True, kw_only=True):
    """What the core asks a region pack when it prices a sale."""

    #: ISO 3166-1 alpha-2: where the event takes place (the buyer's country for an online
    #: event without one).
    country: str
    #: ISO 3166-2 ("CA-QC", "IN-MH"), "" if the event names none.
    subdivision: str = ""
    #: The day of the sale: rates are dated.
    on: date
    #: One of :data:`TAX_CATEGORIES`: what the ticket type admits to.
    category: str = STANDARD
    #: The ticket's unit price, for a rule that depends on it (India exempts admissions up
    #: to INR 500); ``None`` when asked about a place rather than a sale.
    price: Money | None = None
    #: The buyer's country and business tax id, if given (for reverse charge where a pack
    #: applies it).
    buyer_country: str = ""
    buyer_tax_id: str = ""
    #: An online event (streamed, not admission to a venue): EU VAT taxes it where the buyer
    #: is, and reverse-charges it to a business in another member state.
    online: bool = False
    #: Where the seller (the organizer's organization) is established, "" if unknown.
    seller_country: str = ""
    #: The rates the organizer set on the event, for a pack whose law leaves them to the
    #: seller (US sales tax: :attr:`ComplianceRegion.organizer_sets_rates`); empty otherwise.
    organizer_rates: tuple[TaxComponent, ...] = ()


class TaxTreatment(msgspec.Struct, frozen=True, kw_only=True):
    """How a sale is taxed: its taxes (each computed on the same taxable amount and rounded
    once per line), whether prices include them, and how they round. No components: known,
    and untaxed (exempt); ``None`` from a pack: the pack does not know the place."""

    components: tuple[TaxComponent, ...]
    #: Consumer prices include the tax (EU, UK, AU, JP) or it is added at checkout (US, CA).
    inclusive: bool = True
    #: A ``decimal`` rounding mode, applied once per line and component.
    rounding: str = ROUND_HALF_UP
    #: No tax charged: the business buyer accounts for it; the invoice carries ``mention``.
    #: ``components`` are then the taxes the shown price includes (or would add): an
    #: inclusive price is relieved of them, so the buyer pays the price net of tax.
    reverse_charge: bool = False
    mention: str = ""

    @property
    def percent(self) -> Decimal:
        """All components together: what an inclusive price is divided by."""
        return sum((component.percent for component in self.components), Decimal(0))


class BusinessRules(msgspec.Struct, frozen=True, kw_only=True):
    """What a region's law asks of a sale besides its tax: the invoice's fields, a business
    buyer's tax id, the languages offered, the payment's authentication."""

    #: Fields an invoice must carry: ``seller.name``, ``seller.address``, ``seller.tax_id``,
    #: ``buyer.name``, ``buyer.address``, ``buyer.tax_id``. An invoice issued without one says
    #: which (``missing``), and the organization's billing check lists them beforehand.
    invoice_fields: frozenset[str] = frozenset({"seller.name"})
    #: Further fields when the sale is reverse-charged: an order without the buyer's is refused.
    reverse_charge_fields: frozenset[str] = frozenset()
    #: The python-stdnum kind of a business tax id in the region's countries ("vat", "gstin",
    #: "abn"): a buyer's id is checked with its country's check digits; "" (or a country
    #: stdnum does not know) accepts any id of letters and digits.
    tax_id_kind: str = ""
    #: Languages the law says buyers must be offered, by place (a country or an ISO 3166-2
    #: code): French in Québec. ``plugins check`` verifies the platform has their catalogs.
    languages: dict[str, tuple[str, ...]] = {}
    #: Card payments need strong customer authentication (PSD2 in the EEA and the UK, the
    #: RBI's additional factor in India): gateways must run their 3-D Secure flow.
    strong_customer_authentication: bool = False


class PrivacyRegime(msgspec.Struct, frozen=True, kw_only=True):
    """A region's privacy law as the platform applies it."""

    #: The law's name as a privacy notice cites it ("GDPR", "PIPEDA; Québec Law 25").
    law: str
    #: Marketing messages need the person's prior consent (opt-in); otherwise an opt-out
    #: suffices (CAN-SPAM).
    marketing_needs_consent: bool = True
    #: How long records are kept, in days, by kind: ``orders`` (and their invoices: tax
    #: law), ``checkins``, ``messages`` (outbound message bodies), ``sessions``.
    retention_days: dict[str, int]
    #: A place where personal data must be stored (a region id), "" if none is required.
    data_residency: str = ""
    #: The organizer's privacy contact must be shown to buyers.
    privacy_contact_required: bool = False


@runtime_checkable
class ComplianceRegion(Protocol):
    id: str  # "eu": the name plugins.toml and events use
    name: str
    #: ISO 3166-1 alpha-2 codes of the countries the region covers.
    countries: frozenset[str]
    #: ISO 3166-2 codes of the subdivisions whose taxes differ ("CA-ON", "CA-QC"): an event
    #: in a country with any of them must name its own. Empty where one rule holds
    #: nationwide.
    subdivisions: frozenset[str]
    #: The law leaves the rate to the seller (US sales tax): the organizer sets the event's
    #: rates and the pack applies them; elsewhere an event with rates of its own is refused.
    organizer_sets_rates: bool
    business_rules: BusinessRules
    privacy: PrivacyRegime

    def tax_treatment(self, query: TaxQuery) -> TaxTreatment | None:
        """How a sale in ``query``'s place on its day is taxed; ``None`` for a place or
        category the pack does not know."""
        ...


class OrganizerRate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A tax the organizer charges on an event where the law leaves the rate to the seller
    (US sales tax: the state's and the local rates where the event is held)."""

    name: Annotated[SingleLine, msgspec.Meta(min_length=1, max_length=40)]
    percent: PercentText


def organizer_components(
    rates: Sequence[Mapping[str, str]], jurisdiction: str
) -> tuple[TaxComponent, ...]:
    """An event's stored organizer rates as the components a pack applies."""
    return tuple(
        TaxComponent(name=rate["name"], jurisdiction=jurisdiction, percent=Decimal(rate["percent"]))
        for rate in rates
    )


#: The enabled region pack with an id, or ``None``: what the platform hands the core (the
#: core never imports plugins).
RegionLookup = Callable[[str], ComplianceRegion | None]


class RegionNotProvided(RuleViolated):
    """An event names a region no enabled pack provides: without the pack there is no tax
    rule, so the event is neither created, published nor sold (never sold untaxed)."""

    slug = "region-not-provided"
    title = "No enabled region pack provides the event's region"


def require_region(
    regions: RegionLookup, region_id: str, *, field: str = "region"
) -> ComplianceRegion:
    """The pack for ``region_id``, or :class:`RegionNotProvided` naming ``field``."""
    region = regions(region_id)
    if region is None:
        raise RegionNotProvided(
            f"no enabled region pack provides the region {region_id!r}: ops enable packs in "
            "plugins.toml ([regions] enabled)",
            errors=[FieldError(field, f"{region_id!r} is not an enabled region")],
            extra={"rule": "region_provided", "region": region_id},
        )
    return region


class PlaceNotInRegion(RuleViolated):
    """An event's country is not one its region pack covers (region ``eu``, country ``CA``),
    or its subdivision is missing or unknown where the pack's taxes depend on it: the event
    would be taxed by rules that are not its own."""

    slug = "place-not-in-region"
    title = "The event's place is not in its region"


def place_problems(region: ComplianceRegion, country: str, subdivision: str) -> list[FieldError]:
    """Why ``country`` and ``subdivision`` (either may be ""; an online event may have
    neither) do not fit ``region``: one entry per field, none if they do."""
    if not country:
        return []
    if country not in region.countries:
        return [
            FieldError(
                "country",
                f"{country} is not in the region {region.id!r} ({region.name}): choose the "
                "region whose pack covers the country",
            )
        ]
    known = {code for code in region.subdivisions if code.startswith(f"{country}-")}
    if subdivision and known and subdivision not in known:
        return [
            FieldError("subdivision", f"{subdivision} is not a subdivision {region.id!r} knows")
        ]
    if known and not subdivision:
        example = min(known)
        return [
            FieldError(
                "subdivision",
                f"taxes in {country} differ by province or state: name it (ISO 3166-2, "
                f"for example {example})",
            )
        ]
    return []


def require_place(region: ComplianceRegion, country: str, subdivision: str) -> None:
    """:class:`PlaceNotInRegion` if :func:`place_problems` finds any."""
    problems = place_problems(region, country, subdivision)
    if problems:
        raise PlaceNotInRegion(
            "; ".join(problem.message for problem in problems),
            errors=problems,
            extra={"rule": "place_in_region", "region": region.id},
        )
