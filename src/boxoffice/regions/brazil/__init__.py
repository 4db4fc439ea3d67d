"""The ``br`` region pack: Brazil.

The simplification, said plainly: a ticket's price in Brazil includes the taxes the organizer
owes on it, and the platform itemizes none. Admission to an event is a service; the tax on it
is the municipality's ISS (2-5 %, set by each of 5,570 municipalities, owed by the organizer
and stated on the municipal electronic service invoice, NFS-e), with federal PIS/COFINS on the
organizer's revenue, none of which a consumer's receipt breaks out. The tax reform (CBS and
IBS, phased in from 2026 to 2033) will bring a dual VAT that is itemized; this pack gains its
dated rates then. Privacy: the LGPD.
"""

from __future__ import annotations

from boxoffice.core.compliance.region import BusinessRules, PrivacyRegime, TaxQuery, TaxTreatment
from boxoffice.core.hookspecs import hookimpl


class Brazil:
    id = "br"
    name = "Brazil"
    countries = frozenset({"BR"})
    subdivisions: frozenset[str] = frozenset()
    organizer_sets_rates = False
    business_rules = BusinessRules(
        # The NFS-e names the provider by its CNPJ; the municipality issues it.
        invoice_fields=frozenset({"seller.name", "seller.tax_id"}),
        tax_id_kind="cnpj",
    )
    privacy = PrivacyRegime(
        law="LGPD (Lei Geral de Proteção de Dados)",
        retention_days={"orders": 1827, "checkins": 365, "messages": 14, "sessions": 30},
        privacy_contact_required=True,  # the encarregado (data protection officer)
    )

    def tax_treatment(self, query: TaxQuery) -> TaxTreatment | None:
        if query.country not in self.countries:
            return None
        return TaxTreatment(components=(), inclusive=True)


@hookimpl
def register_compliance_regions() -> list[Brazil]:
    return [Brazil()]
