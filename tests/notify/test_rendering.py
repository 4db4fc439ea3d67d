"""Templates and catalogs: every template renders in every language we ship, every
translatable string has a translation in each complete catalog (the test lists what is
missing), the partial ones show English for what they lack, translations keep their
placeholders, and the locale falls back from region to language to a variant to English."""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

import pytest
from babel.messages.pofile import read_po

from boxoffice.core.notify.rendering import (
    FULLY_TRANSLATED,
    Renderer,
    available_locales,
    pick_locale,
    text_message_templates,
    translations,
    untranslated,
)

PLACEHOLDER = re.compile(r"%\((\w+)\)s")

EVENT = {
    "title": "Jazz <Night>",
    "starts_at": "2027-03-04T18:30:00+00:00",
    "timezone": "Europe/Paris",
    "venue_name": "Le Duc",
    "address": "42 rue des Lombards",
    "city": "Paris",
    "online": False,
}
ORDER = {
    "name": "Ana",
    "number": "B7K2M9Q4XZ",
    "event": EVENT,
    "tickets": 2,
    "total": {"minor": 2500, "currency": "EUR"},
    "link": "https://tickets.example/orders/B7K2M9Q4XZ?secret=abc",
}
#: Data as each template gets it when it is sent.
SAMPLES: dict[str, dict[str, Any]] = {
    "verify-email": {"name": "Ana", "link": "https://t.example/v?token=x", "hours": 48},
    "reset-password": {"link": "https://t.example/r?token=x", "minutes": 60},
    "already-registered": {},
    "organization-invitation": {
        "inviter": "Bo",
        "organization": "Jazz Club",
        "role": "staff",
        "link": "https://t.example/i?token=x",
    },
    "order-confirmed": ORDER,
    "order-cancelled": {**ORDER, "paid": True},
    "payment-failed": ORDER,
    "payment-refunded": {
        **ORDER,
        "reason": "duplicate",
        "amount": {"minor": 1250, "currency": "EUR"},
    },
    "event-changed": ORDER,
    "event-postponed": ORDER,
    "event-cancelled": {**ORDER, "paid": True},
    "event-reminder": ORDER,
    "waitlist-offer": {
        "name": "Ana",
        "quantity": 2,
        "event": EVENT,
        "expires_at": "2027-03-01T10:00:00+00:00",
        "link": "https://t.example/holds/1?secret=x",
    },
    "broadcast": {
        "subject": "Doors at 7",
        "body": "Bring your ticket.",
        "event": EVENT,
        "organizer": "Jazz Club",
        "unsubscribe": "https://t.example/u",
    },
    "prerendered": {"subject": "Hi", "text": "Hello", "html": ""},
    "webhook-disabled": {
        "organization": "Jazz <Night>",
        "url": "https://crm.example/hooks",
        "days": 3,
        "reason": "HTTP 503",
    },
}


def test_every_template_has_sample_data() -> None:
    assert sorted(SAMPLES) == Renderer().names()


@pytest.mark.parametrize("locale", sorted(available_locales()))
@pytest.mark.parametrize("template", sorted(SAMPLES))
def test_every_template_renders_in_every_language(template: str, locale: str) -> None:
    rendered = Renderer().render(template, locale, SAMPLES[template])
    assert rendered.subject
    assert "\n" not in rendered.subject
    assert rendered.text.strip(), "every message has a plain-text part"
    if template != "prerendered":
        assert rendered.html.startswith("<!DOCTYPE html>")
        assert "Jazz <Night>" not in rendered.html, "the HTML part escapes what it shows"
    for value in ("link", "unsubscribe"):
        if value in SAMPLES[template]:
            assert SAMPLES[template][value] in rendered.text


@pytest.mark.parametrize("locale", sorted(available_locales()))
@pytest.mark.parametrize("template", sorted(text_message_templates()))
def test_every_text_message_renders_short_in_every_language(template: str, locale: str) -> None:
    """What goes by SMS has its ``.sms`` text: no subject, no HTML, the link, and short (a
    160-character segment is 70 characters once a letter is not GSM-7: two or three)."""
    rendered = Renderer().render(template, locale, SAMPLES[template], kind="sms")
    assert (rendered.subject, rendered.html) == ("", "")
    assert SAMPLES[template]["event"]["title"] in rendered.text
    assert SAMPLES[template]["link"] in rendered.text
    assert len(rendered.text) < 300, rendered.text


@pytest.mark.parametrize("locale", sorted(FULLY_TRANSLATED))
def test_each_complete_catalog_translates_every_string(locale: str) -> None:
    assert untranslated(locale) == [], f"{locale} lacks translations for the strings above"


def test_twenty_languages_and_seven_of_them_whole() -> None:
    assert len(available_locales()) >= 20, sorted(available_locales())
    assert {"en", "fr", "es", "de", "pt_BR", "hi", "ja"} <= FULLY_TRANSLATED | {"en"}
    assert available_locales() >= FULLY_TRANSLATED


@pytest.mark.parametrize("locale", sorted(available_locales() - {"en"}))
def test_translations_keep_their_placeholders(locale: str) -> None:
    """A translation names the values its English names (``%(number)s``): a lost or
    misspelt one would break the message or leave a hole in it."""
    po = resources.files("boxoffice.core.notify") / "locale" / locale / "LC_MESSAGES"
    with (po / "messages.po").open("rb") as source:
        catalog = read_po(source, locale=locale)
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set().union(*(PLACEHOLDER.findall(text) for text in ids))
        for text in filter(None, strings):
            named = set(PLACEHOLDER.findall(text))
            assert named <= wanted, (locale, message.id, named - wanted)
            if len(ids) == 1:
                assert named == wanted, (locale, message.id, wanted - named)


def test_the_locale_falls_back_from_region_to_language_to_a_variant_to_english() -> None:
    assert pick_locale("fr-CA") == "fr"
    assert pick_locale("fr_FR", "de") == "fr"
    assert pick_locale("ja", "fr") == "ja"
    assert pick_locale("pt-PT", "en") == "pt_BR", "another variant of the language first"
    assert pick_locale("pt") == "pt_BR"
    assert pick_locale("zh-CN") == "zh_Hans"
    assert pick_locale("is", "nb-NO") == "nb", "a language without a catalog is skipped"
    assert pick_locale(None, "", "xx") == "en"
    assert pick_locale() == "en"


def test_a_partial_catalog_shows_english_for_what_it_lacks() -> None:
    italian = translations("it")
    assert italian.gettext("Not found") == "Non trovato"
    assert "Seats are free for you" in untranslated("it")
    assert italian.gettext("Seats are free for you") == "Seats are free for you"
    assert italian.gettext("The hold has expired") == "The hold has expired"


@pytest.mark.parametrize(
    ("locale", "amount", "shown"),
    [
        ("fr", {"minor": 1250, "currency": "EUR"}, "12,50 €"),
        ("en", {"minor": 1250, "currency": "EUR"}, "€12.50"),
        ("en", {"minor": 1250, "currency": "JPY"}, "¥1,250"),
        ("fr", {"minor": 1250, "currency": "BHD"}, "1,250 BHD"),
        ("de", {"minor": 123456, "currency": "BHD"}, "123,456 BHD"),
        ("en", {"minor": 1250, "currency": "KWD"}, "KWD1.250"),
        ("es", {"minor": 125000, "currency": "CLP"}, "125.000 CLP"),
        ("ja", {"minor": 1250, "currency": "JPY"}, "￥1,250"),
        ("hi", {"minor": 123456789, "currency": "INR"}, "₹12,34,567.89"),
        ("pt_BR", {"minor": 1250, "currency": "BRL"}, "R$ 12,50"),
    ],
)
def test_money_is_shown_the_recipients_way(locale: str, amount: dict[str, Any], shown: str) -> None:
    data = {**SAMPLES["payment-refunded"], "amount": amount}
    text = Renderer().render("payment-refunded", locale, data).text
    assert shown in text.replace("\u00a0", " ").replace("\u202f", " ")
