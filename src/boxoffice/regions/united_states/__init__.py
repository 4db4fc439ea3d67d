"""The ``us`` region pack: the United States, by state.

Said plainly: **the platform does not know US sales tax rates.** There is no federal sales
tax; each state, and many counties and cities, set their own, and whether admissions are
taxed at all differs from state to state. The organizer sets the rates that apply where the
event is held (``tax_rates`` on the event: the state's and the local ones, as they file
them), and the pack adds them at checkout, each computed on the price before tax and rounded
half up once per line, as US consumers expect. An event without rates is sold untaxed. An
event names its state (``subdivision``, e.g. ``US-NY``). Privacy: CCPA/CPRA for buyers in
California (docs/design/regions.md).
"""

from __future__ import annotations

from boxoffice.core.compliance.region import BusinessRules, PrivacyRegime, TaxQuery, TaxTreatment
from boxoffice.core.hookspecs import hookimpl

#: The fifty states and the District of Columbia (ISO 3166-2:US).
STATES = frozenset(
    f"US-{code}"
    for code in (  # noqa: SIM905 - a list of 51 two-letter codes reads best as one string
        "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV "
        "NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY"
    ).split()
)


class UnitedStates:
    id = "us"
    name = "United States"
    countries = frozenset({"US"})
    subdivisions = STATES
    organizer_sets_rates = True
    business_rules = BusinessRules(invoice_fields=frozenset({"seller.name"}))
    privacy = PrivacyRegime(
        law="CCPA/CPRA for California residents; CAN-SPAM",
        # Marketing e-mail may be sent until the person opts out (CAN-SPAM); the platform
        # still sends it only to those who opted in (``marketing_consent``), as elsewhere.
        marketing_needs_consent=False,
        retention_days={"orders": 2557, "checkins": 365, "messages": 14, "sessions": 30},
        privacy_contact_required=True,  # CCPA: how to submit requests
    )

    def tax_treatment(self, query: TaxQuery) -> TaxTreatment | None:
        if query.country not in self.countries:
            return None
        return TaxTreatment(components=query.organizer_rates, inclusive=False)


@hookimpl
def register_compliance_regions() -> list[UnitedStates]:
    return [UnitedStates()]
