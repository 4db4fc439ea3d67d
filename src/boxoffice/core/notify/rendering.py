"""Rendering messages: Jinja2 templates, translated with gettext catalogs, numbers, money and
dates formatted by babel for the recipient's locale.

A message is three files in ``templates/``: ``<name>.subject``, ``<name>.txt`` (the plain
text every e-mail carries) and, optionally, ``<name>.html``; a message that may also go as
a text message has a short ``<name>.sms`` (plain text, no subject). Translatable text sits in
``{% trans %}`` blocks; the catalogs are ``locale/<language>/LC_MESSAGES/messages.po`` and
are compiled when first used, so the repository holds no binary ``.mo`` files. The locale
is chosen when the message is queued (:func:`pick_locale`): the recipient's, else the
event's language, else English; ``fr_CA`` falls back to ``fr``.

Templates get plain data (what JSON can carry), so a queued message survives a restart:
money as ``{"minor": 1250, "currency": "EUR"}`` and moments as ISO 8601 strings, turned
into text by the ``money`` and ``when`` filters.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import lru_cache
from gettext import GNUTranslations, NullTranslations
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from jinja2 import Environment, PackageLoader, StrictUndefined, TemplateNotFound

from boxoffice.core.clock import ensure_utc
from boxoffice.core.money import Money

DEFAULT_LOCALE = "en"
_PACKAGE = "boxoffice.core.notify"
#: The languages every user-facing string is translated into (a test keeps them whole). The
#: other catalogs are partial: a string they lack is shown in English, and
#: ``boxoffice translations`` lists what each lacks (docs/translating.md).
FULLY_TRANSLATED = frozenset({"fr", "es", "de", "pt_BR", "hi", "ja"})


class Rendered(msgspec.Struct, frozen=True):
    subject: str
    text: str
    html: str = ""


@lru_cache(maxsize=1)
def text_message_templates() -> frozenset[str]:
    """The messages that also go as a text message to a buyer who gave a phone number: those
    with a ``<name>.sms`` (what changes their plans; texts cost money and interrupt)."""
    root = resources.files(_PACKAGE) / "templates"
    return frozenset(
        entry.name.removesuffix(".sms") for entry in root.iterdir() if entry.name.endswith(".sms")
    )


@lru_cache(maxsize=1)
def available_locales() -> frozenset[str]:
    """The languages with a catalog, and English (the templates' own language)."""
    folder = resources.files(_PACKAGE) / "locale"
    found = {entry.name for entry in folder.iterdir() if entry.is_dir()}
    return frozenset(found | {DEFAULT_LOCALE})


def accepted_languages(header: str | None) -> list[str]:
    """An ``Accept-Language`` header's languages, most wanted first (RFC 9110: ``q``
    weights, ``q=0`` refused, ``*`` ignored): ``"fr-CA, fr;q=0.8, en;q=0.5"`` gives
    ``["fr-CA", "fr", "en"]``."""
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate((header or "")[:500].split(",")):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip()
        if not tag or tag == "*" or len(tag) > 35:
            continue
        weight = 1.0
        name, _, value = params.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                weight = float(value)
            except ValueError:
                continue
        if weight > 0:
            weighted.append((-weight, index, tag))
    return [tag for _, _, tag in sorted(weighted)]


def pick_locale(*candidates: str | None) -> str:
    """The first candidate a catalog exists for, else English. Each candidate falls back
    from its region or script to its language (``fr-CA`` and ``fr_CA``: ``fr``), then to
    another variant of its language (``pt-PT``: ``pt_BR``; ``zh-CN``: ``zh_Hans``) before
    the next candidate is tried."""
    known = available_locales()
    by_language: dict[str, str] = {}
    for name in sorted(known):
        by_language.setdefault(name.split("_")[0].lower(), name)
    for candidate in candidates:
        if not candidate:
            continue
        name = candidate.replace("-", "_")
        language = name.split("_")[0].lower()
        for option in (name, language):
            if option in known:
                return option
        if language in by_language:
            return by_language[language]
    return DEFAULT_LOCALE


def language_tag(locale: str) -> str:
    """A catalog's name as a BCP 47 language tag (``pt_BR``: ``pt-BR``), as
    ``Content-Language`` says it."""
    return locale.replace("_", "-")


def missing_translations(also: Iterable[str] = ()) -> dict[str, list[str]]:
    """Each catalog's untranslated strings (those it shows in English), by locale: the
    templates' and ``also`` (the API's problem titles, which the core does not know)."""
    also = tuple(also)
    return {
        locale: untranslated(locale, also)
        for locale in sorted(available_locales() - {DEFAULT_LOCALE})
    }


def _catalog(locale: str) -> Catalog:
    po = resources.files(_PACKAGE) / "locale" / locale / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as source:
        return read_po(source, locale=locale)


def untranslated(locale: str, also: Iterable[str] = ()) -> list[str]:
    """The templates' strings, and ``also``, that ``locale``'s catalog lacks (or leaves
    empty)."""
    catalog = _catalog(locale)
    missing = []
    for text in (*messages_in_templates(), *also):
        found = catalog.get(text)
        strings = found.string if found is not None else ""
        if not (all(strings) if isinstance(strings, tuple) else strings):
            missing.append(text)
    return sorted(set(missing))


@lru_cache(maxsize=32)
def translations(locale: str) -> NullTranslations:
    """The compiled catalog of ``locale`` (a ``NullTranslations`` for English)."""
    if locale == DEFAULT_LOCALE or locale not in available_locales():
        return NullTranslations()
    catalog = _catalog(locale)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return GNUTranslations(compiled)


def _babel_locale(locale: str) -> Locale:
    try:
        return Locale.parse(locale)
    except (ValueError, UnknownLocaleError):
        return Locale.parse(DEFAULT_LOCALE)


def format_money(value: Money | Mapping[str, Any], locale: str) -> str:
    money = value if isinstance(value, Money) else Money(int(value["minor"]), value["currency"])
    return money.format(_babel_locale(locale))


def format_when(value: datetime | str, zone: str, locale: str) -> str:
    """A moment in ``zone`` for people: ``jeudi 4 mars 2027, 19:30 (Europe/Paris)``."""
    moment = ensure_utc(datetime.fromisoformat(value) if isinstance(value, str) else value)
    local = moment.astimezone(ZoneInfo(zone))
    where = _babel_locale(locale)
    day = format_date(local.date(), "full", locale=where)
    hour = format_time(local, "short", locale=where)
    return f"{day}, {hour} ({zone})"


class Renderer:
    """Renders a template in a locale. One per process; templates and catalogs are cached."""

    def __init__(self, package: str = _PACKAGE) -> None:
        self._text = self._environment(package, autoescape=False)
        self._html = self._environment(package, autoescape=True)

    @staticmethod
    def _environment(package: str, *, autoescape: bool) -> Environment:
        environment = Environment(
            loader=PackageLoader(package, "templates"),
            autoescape=autoescape,  # noqa: S701 - the plain-text part is not HTML
            undefined=StrictUndefined,  # a missing variable is a bug, not an empty string
            extensions=["jinja2.ext.i18n"],
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        environment.policies["ext.i18n.trimmed"] = True  # a paragraph's line breaks are layout
        return environment

    def names(self) -> list[str]:
        """Every message template there is (by its ``.subject`` file)."""
        return sorted(
            name.removesuffix(".subject")
            for name in self._text.list_templates()
            if name.endswith(".subject")
        )

    def render(
        self, template: str, locale: str, context: Mapping[str, Any], kind: str = "email"
    ) -> Rendered:
        """The message in ``locale``: for e-mail a subject, the plain text and the HTML; for a
        text message (``kind="sms"``) only the text of ``<template>.sms``."""
        if kind == "sms":
            return Rendered(
                subject="", text=_tidy(self._one(self._text, f"{template}.sms", locale, context))
            )
        subject = " ".join(self._one(self._text, f"{template}.subject", locale, context).split())
        text = _tidy(self._one(self._text, f"{template}.txt", locale, context))
        try:
            html = self._one(self._html, f"{template}.html", locale, context)
        except TemplateNotFound:  # the plain text, laid out: paragraphs, links
            paragraphs = [block.split("\n") for block in text.split("\n\n")]
            html = self._one(
                self._html,
                "_layout.html",
                locale,
                {"subject": subject, "paragraphs": paragraphs},
            )
        return Rendered(subject=subject, text=text, html=html)

    def document(self, template: str, locale: str, context: Mapping[str, Any]) -> str:
        """A document's plain text in ``locale`` (an invoice: ``_invoice.txt``), with the
        messages' catalogs, money and dates."""
        return _tidy(self._one(self._text, f"_{template}.txt", locale, context))

    @staticmethod
    def _one(environment: Environment, name: str, locale: str, context: Mapping[str, Any]) -> str:
        catalog = translations(locale)
        template = environment.get_template(name)
        return template.render(
            dict(context),
            _=catalog.gettext,
            gettext=catalog.gettext,
            ngettext=catalog.ngettext,
            money=lambda value: format_money(value, locale),
            when=lambda value, zone: format_when(value, zone, locale),
            locale=locale,
        )


def _tidy(text: str) -> str:
    """Trailing spaces off each line (but the ``-- `` signature separator), at most one
    blank line in a row, one final line break."""
    lines = [line if line == "-- " else line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n") + "\n"


def messages_in_templates() -> Iterable[str]:
    """Every translatable string of the templates (what a catalog must translate)."""
    from jinja2.ext import babel_extract

    root = resources.files(_PACKAGE) / "templates"
    options = {"extensions": "jinja2.ext.i18n", "trimmed": "true"}
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if not entry.is_file():
            continue
        source = io.BytesIO(entry.read_bytes())
        for _line, _function, message, _comments in babel_extract(
            source, ("gettext", "ngettext", "_"), [], options
        ):
            first = message if isinstance(message, str) else (message or (None,))[0]
            if first:
                yield first
