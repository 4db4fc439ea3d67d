"""The organizer dashboard in a real headless browser (Playwright driving Debian's
chromium) against a real server with the demo data, on both engines: sign in, open an
event's dashboard, buy a ticket through the API, and see the count change without a reload;
the page fits a phone's screen.

Chromium comes from the system (``.ci/run`` installs Debian's ``chromium``;
``BOXOFFICE_CHROMIUM`` names another). Without it this test fails and says how to get it:
it is never skipped."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from boxoffice.testing import ServerProcesses
from tests.servers import DEMO_ORGANIZER, demo_environment

LAUNCH_PARTY = "Boxoffice Launch Party"


def chromium() -> str:
    found = os.environ.get("BOXOFFICE_CHROMIUM") or shutil.which("chromium")
    if not found:
        pytest.fail(
            "the dashboard's browser test needs chromium: `apt-get install chromium` "
            "(.ci/run does it), or set BOXOFFICE_CHROMIUM to a Chromium or Chrome binary"
        )
    return found


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Any:
    """A real server with the demo data (set up before Playwright runs its own event loop
    in this thread)."""
    env = demo_environment(db_url, tmp_path / "data")
    with ServerProcesses(1, env) as (url,):
        yield url


@pytest.fixture
def browser(server: str) -> Any:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium(), headless=True, args=["--no-sandbox"]
        )
        try:
            yield launched
        finally:
            launched.close()


def organizer_token(url: str) -> str:
    answer = httpx.post(f"{url}/api/v1/auth/login", json=DEMO_ORGANIZER, timeout=10)
    answer.raise_for_status()
    token: str = answer.json()["access_token"]
    return token


def launch_party(url: str, token: str) -> tuple[str, str]:
    """(organization id, event id) of the demo's launch party."""
    headers = {"authorization": f"Bearer {token}"}
    (organization,) = httpx.get(f"{url}/api/v1/me/organizations", headers=headers).json()
    events = httpx.get(
        f"{url}/api/v1/organizations/{organization['id']}/events", headers=headers
    ).json()
    (event,) = [e for e in events if e["title"] == LAUNCH_PARTY]
    return organization["id"], event["id"]


def buy_one(url: str, token: str, organization_id: str, event_id: str) -> None:
    """A buyer's checkout of one Standing ticket, marked paid by the organizer."""
    types = httpx.get(f"{url}/api/v1/events/{event_id}/ticket-types").json()
    standing = next(t for t in types if t["name"] == "Standing")
    placed = httpx.post(
        f"{url}/api/v1/events/{event_id}/orders",
        json={
            "items": [{"ticket_type_id": standing["id"], "quantity": 1}],
            "buyer": {"name": "Live Buyer", "email": "live@example.org"},
        },
        timeout=10,
    )
    assert placed.status_code == 201, placed.text
    paid = httpx.post(
        f"{url}/api/v1/organizations/{organization_id}/events/{event_id}/orders/"
        f"{placed.json()['number']}/mark-paid",
        headers={"authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert paid.status_code == 200, paid.text


def test_the_dashboard_shows_a_sale_live_without_a_reload(server: str, browser: Browser) -> None:
    url = server
    token = organizer_token(url)
    organization_id, event_id = launch_party(url, token)
    page = browser.new_page()
    page.goto(f"{url}/dashboard/")
    page.fill("input[name=email]", DEMO_ORGANIZER["email"])
    page.fill("input[name=password]", DEMO_ORGANIZER["password"])
    page.click("#sign-in button[type=submit]")
    page.click(f"a[data-event-id='{event_id}']")
    page.wait_for_selector("#live.on", timeout=15_000)
    assert page.text_content("#event-title") == LAUNCH_PARTY
    before = int(page.text_content("#tickets-sold") or "-1")
    page.evaluate("window.__sameDocument = true")

    buy_one(url, token, organization_id, event_id)

    expect(page.locator("#tickets-sold")).to_have_text(str(before + 1), timeout=20_000)
    assert page.evaluate("window.__sameDocument === true"), "no reload"
    assert "€" in (page.text_content("#gross") or "")

    phone = browser.new_page(viewport={"width": 390, "height": 844})
    phone.goto(f"{url}/dashboard/?org={organization_id}&event={event_id}")
    phone.fill("input[name=email]", DEMO_ORGANIZER["email"])
    phone.fill("input[name=password]", DEMO_ORGANIZER["password"])
    phone.click("#sign-in button[type=submit]")
    phone.wait_for_selector("#live.on", timeout=15_000)
    assert phone.text_content("#tickets-sold") == str(before + 1)
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
        "nothing wider than a phone's screen"
    )
