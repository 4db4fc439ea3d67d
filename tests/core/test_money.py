from decimal import ROUND_HALF_UP, Decimal

import msgspec
import pytest

from boxoffice.core.money import CurrencyError, Money, minor_digits


@pytest.mark.parametrize(
    ("currency", "digits"),
    [("EUR", 2), ("JPY", 0), ("BHD", 3), ("KWD", 3), ("CLP", 0), ("USD", 2)],
)
def test_minor_digits_come_from_iso_4217(currency: str, digits: int) -> None:
    assert minor_digits(currency) == digits


@pytest.mark.parametrize(
    ("money", "locale", "shown"),
    [
        (Money(123456, "JPY"), "en", "¥123,456"),
        (Money(123456, "JPY"), "de", "123.456 ¥"),
        (Money(123456, "BHD"), "en", "BHD123.456"),
        (Money(123456, "KWD"), "de", "123,456 KWD"),
        (Money(123456, "CLP"), "en", "CLP123,456"),
        (Money(123456, "CLP"), "de", "123.456 CLP"),
        (Money(123456, "EUR"), "fr", "1 234,56 €"),
    ],
)
def test_each_currency_is_shown_with_its_own_minor_digits(
    money: Money, locale: str, shown: str
) -> None:
    """No currency is shown with another's decimals: yen and pesos have none, dinars three."""
    spaced = money.format(locale).replace("\u00a0", " ").replace("\u202f", " ")
    assert spaced == shown


def test_floats_and_bools_are_refused() -> None:
    with pytest.raises(TypeError):
        Money(19.99, "EUR")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money(True, "EUR")
    with pytest.raises(TypeError):
        Money(100, "EUR") * 1.5  # type: ignore[operator]


@pytest.mark.parametrize("code", ["EURO", "XYZ", "", "E1R", "XXX", "XAU", "XTS", "DEM"])
def test_unknown_and_unusable_currencies_are_refused(code: str) -> None:
    """Not ISO 4217, or not money anyone pays with today (no currency, gold, tests, the
    Deutsche Mark)."""
    with pytest.raises(CurrencyError):
        Money(1, code)


def test_codes_in_any_case_are_taken_in_capitals() -> None:
    assert Money(1, "eur") == Money(1, "EUR")
    assert Money(1, "xof").currency == "XOF"


def test_arithmetic_stays_in_one_currency() -> None:
    assert Money(1000, "EUR") + Money(999, "EUR") == Money(1999, "EUR")
    assert Money(1000, "EUR") - Money(1, "EUR") == Money(999, "EUR")
    assert 3 * Money(333, "EUR") == Money(999, "EUR")
    assert -Money(5, "EUR") == Money(-5, "EUR")
    assert Money(1, "EUR") < Money(2, "EUR") <= Money(2, "EUR")
    assert Money(3, "EUR") > Money(2, "EUR") >= Money(2, "EUR")
    with pytest.raises(CurrencyError):
        Money(1, "EUR") + Money(1, "USD")
    with pytest.raises(CurrencyError):
        assert Money(1, "EUR") < Money(1, "USD")


def test_decimal_conversion_rounds_once_by_the_given_rule() -> None:
    assert Money.from_decimal(Decimal("19.995"), "EUR") == Money(2000, "EUR")  # half even: 1999.5
    assert Money.from_decimal(Decimal("0.125"), "EUR") == Money(12, "EUR")
    assert Money.from_decimal(Decimal("0.125"), "EUR", ROUND_HALF_UP) == Money(13, "EUR")
    assert Money.from_decimal("1234.4", "JPY") == Money(1234, "JPY")
    assert Money.from_decimal("1.2345", "BHD") == Money(1234, "BHD")
    assert Money(1999, "EUR").to_decimal() == Decimal("19.99")
    assert Money(5, "JPY").to_decimal() == Decimal(5)


def test_formatting_is_locale_aware() -> None:
    assert Money(1999, "EUR").format("de_DE") == "19,99\xa0€"
    assert Money(1999, "USD").format("en_US") == "$19.99"
    assert Money(1500, "JPY").format("ja_JP") == "￥1,500"
    assert str(Money(1234, "BHD")) == "1.234 BHD"


def test_money_serializes_as_minor_units() -> None:
    assert msgspec.json.encode(Money(1999, "EUR")) == b'{"minor":1999,"currency":"EUR"}'
    assert msgspec.json.decode(b'{"minor":5,"currency":"JPY"}', type=Money) == Money(5, "JPY")
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"minor":19.99,"currency":"EUR"}', type=Money)
