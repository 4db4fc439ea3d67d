"""Problems in the caller's language: ``Accept-Language`` picks the catalog (weights, region
to language to English), the title is translated, the response says which language it is in
and that it varies by it. Every problem title is in every catalog."""

from __future__ import annotations

from typing import Any

import pytest

import boxoffice.api.app  # noqa: F401 - every route module, hence every error type, loaded
from boxoffice.api.problems import problem_titles
from boxoffice.core.notify.rendering import FULLY_TRANSLATED, accepted_languages, translations
from boxoffice.platform import Platform
from tests import factories


@pytest.mark.parametrize("locale", sorted(FULLY_TRANSLATED))
def test_every_problem_title_is_translated(locale: str) -> None:
    catalog = translations(locale)
    missing = [title for title in problem_titles() if catalog.gettext(title) == title]
    assert missing == [], f"{locale} lacks these problem titles"


def test_accept_language_weights_and_refusals() -> None:
    assert accepted_languages("fr-CA, fr;q=0.8, en;q=0.5") == ["fr-CA", "fr", "en"]
    assert accepted_languages("de;q=0.1, es") == ["es", "de"]
    assert accepted_languages("en;q=0, ja, *;q=0.3, x;q=oops") == ["ja"]
    assert accepted_languages(None) == accepted_languages("") == []


@pytest.fixture
def platform(make_platform: factories.MakePlatform) -> Platform:
    return make_platform(config=factories.PLUGINS_TOML, entry_points=True)


@pytest.mark.parametrize(
    ("header", "language", "title"),
    [
        ("fr-CA,fr;q=0.9,en;q=0.5", "fr", "Introuvable"),
        ("pt-BR, de;q=0.5", "pt-BR", "Não encontrado"),
        ("pt-PT, de;q=0.5", "pt-BR", "Não encontrado"),
        ("es", "es", "No encontrado"),
        ("ja, en;q=0.1", "ja", "見つかりません"),
        ("hi", "hi", "नहीं मिला"),
        ("it", "it", "Non trovato"),
        ("is, de;q=0.5", "de", "Nicht gefunden"),
        (None, "en", "Not found"),
    ],
)
async def test_a_problem_speaks_the_callers_language(
    platform: Platform, make_client: Any, header: str | None, language: str, title: str
) -> None:
    headers = {"accept-language": header} if header else {}
    async with make_client(platform) as client:
        missing = await client.get("/api/v1/events/not-an-event", headers=headers)
        invalid = await client.post("/api/v1/auth/login", headers=headers, json={"email": 1})
    assert missing.status_code == 404
    assert missing.json()["title"] == title
    assert missing.headers["content-language"] == language
    assert "Accept-Language" in missing.headers["vary"]
    assert missing.json()["type"].endswith("/not-found"), "the type never changes"
    assert invalid.status_code == 400
    assert invalid.headers["content-language"] == language
    catalog = translations(language.replace("-", "_"))
    assert invalid.json()["title"] == catalog.gettext("The request is not valid")


async def test_a_title_a_partial_catalog_lacks_is_in_english_and_says_so(
    platform: Platform, make_client: Any
) -> None:
    async with make_client(platform) as client:
        # Italian has "Not found" but not "The request is malformed".
        malformed = await client.post(
            "/api/v1/auth/login",
            headers={"accept-language": "it", "content-type": "application/json"},
            content=b"{not json",
        )
    assert malformed.status_code == 400, malformed.text
    assert malformed.json()["title"] == "The request is malformed"
    assert malformed.headers["content-language"] == "en"
