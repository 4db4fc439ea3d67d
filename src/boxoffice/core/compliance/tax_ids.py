"""Business tax ids (VAT, GSTIN, ABN, ...), checked with python-stdnum.

A region pack names the kind of id its countries issue (:attr:`BusinessRules.tax_id_kind`);
stdnum knows each country's format and check digits. An id is checked against the country
the buyer names, so a German VAT id given by a buyer "in France" is refused. Whether the id is
registered (the EU's VIES, the other registries) is not asked: those are remote services.
"""

from __future__ import annotations

from stdnum import get_cc_module
from stdnum.exceptions import ValidationError
from stdnum.util import NumberValidationModule

from boxoffice.core.errors import FieldError, ValidationFailed

#: The prefix of a VAT id where it is not the ISO country code.
_VAT_PREFIX = {"GR": "EL"}


def _validator(kind: str, country: str) -> NumberValidationModule | None:
    return get_cc_module(country.lower(), kind) if kind else None


def _shown(compact: str, kind: str, country: str) -> str:
    """A VAT id as invoices print it: with its country prefix ("DE136695976"), which
    stdnum's compact form drops."""
    prefix = _VAT_PREFIX.get(country, country)
    if kind != "vat" or compact.startswith(prefix):
        return compact
    return prefix + compact


def checked_tax_id(number: str, *, country: str, kind: str, field: str) -> str:
    """``number`` in its compact form if it is a valid id of ``kind`` issued in
    ``country``; :class:`ValidationFailed` naming ``field`` otherwise. A country stdnum has
    no module for keeps the id as given (the schema checked its characters)."""
    if not country:
        raise ValidationFailed(
            "a tax id needs the country that issued it",
            errors=[FieldError(field.rsplit(".", 1)[0] + ".country", "required with a tax id")],
        )
    validator = _validator(kind, country)
    if validator is None:
        return number.strip().upper()
    try:
        compact: str = validator.validate(number)
    except ValidationError as error:
        raise ValidationFailed(
            f"{number!r} is not a valid {kind.upper()} number of {country}: {error}",
            errors=[FieldError(field, f"not a valid {kind.upper()} number of {country}")],
        ) from None
    return _shown(compact, kind, country)
