"""Check-in at the door on both engines: one scan answers everything (valid, already used
with when and where, unknown, wrong event, wrong list, refunded, cancelled, not yet valid),
a ticket is let in once however many scanners scan it at the same moment, the lists count
live, and door staff can do nothing else."""

from __future__ import annotations

import asyncio
import base64
import uuid
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select as sa_select

from boxoffice.core.clock import ManualClock
from boxoffice.core.tickets.credentials import read_claim, verify_offline
from boxoffice.platform import Platform
from tests import factories
from tests.booking.helpers import Buyer, organizer_shop, shop
from tests.identity.helpers import auth, invite_and_join, sign_up


@pytest.fixture
def platform(make_platform: factories.MakePlatform) -> Platform:
    return make_platform(config=factories.PLUGINS_TOML, entry_points=True)


async def credentials(client: Any, order: dict[str, Any]) -> list[str]:
    passes = await client.get(
        f"/api/v1/orders/{order['number']}/tickets", params={"secret": order["secret"]}
    )
    return [p["credential"] for p in passes.json()]


async def test_a_scan_answers_everything_the_door_needs(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        store, headers, base = await organizer_shop(
            client,
            platform,
            clock,
            types={"Free": 0, "VIP": 0, "Paid": 2500},
            quotas={"Hall": (20, ["Free", "VIP", "Paid"])},
        )
        main = await client.post(
            f"{base}/checkin-lists", json={"name": "Main door"}, headers=headers
        )
        assert main.status_code == 201, main.text
        vip_door = await client.post(
            f"{base}/checkin-lists",
            json={"name": "VIP door", "ticket_type_ids": [str(store.types["VIP"])]},
            headers=headers,
        )
        later = await client.post(
            f"{base}/checkin-lists",
            json={
                "name": "After party",
                "opens_at": (clock.now() + timedelta(minutes=8)).isoformat(),
            },
            headers=headers,
        )
        bad = await client.post(
            f"{base}/checkin-lists",
            json={"name": "Odd", "ticket_type_ids": [str(uuid.uuid4())]},
            headers=headers,
        )
        assert bad.status_code == 400, bad.text

        async def scan(list_: Any, credential: str, gate: str = "north") -> dict[str, Any]:
            scanned = await client.post(
                f"{base}/checkin-lists/{list_.json()['id']}/scans",
                json={"credential": credential, "gate": gate},
                headers=headers,
            )
            assert scanned.status_code == 200, scanned.text
            result: dict[str, Any] = scanned.json()
            return result

        buyer = Buyer(client, store)
        free_order = await buyer.buy(Free=2)
        first, second = await credentials(client, free_order)
        valid = await scan(main, first)
        assert (valid["result"], valid["ticket"]["ticket_type"]) == ("valid", "Free")
        clock.advance(minutes=5)
        again = await scan(main, first, gate="south")
        assert again["result"] == "already_used"
        assert again["first_gate"] == "north"
        assert again["first_scanned_at"] == (
            clock.now() - timedelta(minutes=5)
        ).isoformat().replace("+00:00", "Z")
        assert (await scan(vip_door, second))["result"] == "wrong_list"
        assert (await scan(later, second))["result"] == "not_yet_valid"
        clock.advance(minutes=3)  # (access tokens last 15 minutes)
        assert (await scan(later, second))["result"] == "valid", "the doors opened"

        vip = (await credentials(client, await buyer.buy(VIP=1)))[0]
        assert (await scan(vip_door, vip))["result"] == "valid"

        unpaid = await buyer.buy(Paid=1)
        (item,) = unpaid["tickets"]
        pending = platform.ticket_keys.credential(store.event.id, uuid.UUID(item["id"]), 1)
        assert (await scan(main, pending))["result"] == "not_yet_valid"

        refunded_order = await buyer.buy(Free=2)
        kept, gone = await credentials(client, refunded_order)
        refunded = await client.post(
            f"{base}/orders/{refunded_order['number']}/refund",
            json={"ticket_ids": [refunded_order["tickets"][1]["id"]]},
            headers=headers,
        )
        assert refunded.status_code == 200, refunded.text
        assert (await scan(main, gone))["result"] == "refunded"
        cancelled_order = await buyer.buy(Free=1)
        (doomed,) = await credentials(client, cancelled_order)
        cancelled = await client.post(
            f"{base}/orders/{cancelled_order['number']}/cancel",
            json={"reason": "duplicate"},
            headers=headers,
        )
        assert cancelled.status_code == 200, cancelled.text
        assert (await scan(main, doomed))["result"] == "cancelled"

        reissued = await client.post(
            f"/api/v1/orders/{refunded_order['number']}/tickets/"
            f"{refunded_order['tickets'][0]['id']}/reissue",
            json={"secret": refunded_order["secret"]},
        )
        old = await scan(main, kept)
        assert (old["result"], old["detail"]) == (
            "unknown",
            "an old code: this ticket was reissued",
        )
        assert (await scan(main, reissued.json()["credential"]))["result"] == "valid"

        other = await shop(platform.db, clock, types={"Free": 0}, quotas={"Hall": (5, ["Free"])})
        elsewhere = (await credentials(client, await Buyer(client, other).buy(Free=1)))[0]
        assert (await scan(main, elsewhere))["result"] == "wrong_event"
        assert (await scan(main, "not-a-ticket"))["result"] == "unknown"
        forged = first[:-4] + ("AAAA" if not first.endswith("AAAA") else "BBBB")
        assert (await scan(main, forged))["result"] == "unknown"

        lists = (await client.get(f"{base}/checkin-lists", headers=headers)).json()
        counts = {entry["name"]: (entry["checked_in"], entry["expected"]) for entry in lists}
        # Valid tickets now: 2 + 1 VIP + 1 (kept, reissued); the refunded and the cancelled
        # ones and the unpaid one do not count.
        assert counts == {"Main door": (2, 4), "VIP door": (1, 1), "After party": (1, 4)}


async def test_a_ticket_scanned_at_the_same_moment_by_many_scanners_is_let_in_once(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        store, headers, base = await organizer_shop(
            client, platform, clock, types={"Free": 0}, quotas={"Hall": (5, ["Free"])}
        )
        door = (
            await client.post(f"{base}/checkin-lists", json={"name": "Door"}, headers=headers)
        ).json()
        (credential,) = await credentials(client, await Buyer(client, store).buy(Free=1))
        scans = await asyncio.gather(
            *(
                client.post(
                    f"{base}/checkin-lists/{door['id']}/scans",
                    json={"credential": credential, "gate": f"gate-{i}"},
                    headers=headers,
                )
                for i in range(8)
            )
        )
        results = [s.json()["result"] for s in scans]
        assert sorted(results) == ["already_used"] * 7 + ["valid"], results
        winner = results.index("valid")
        assert {s.json()["first_gate"] for s in scans if s.json()["result"] != "valid"} == {
            f"gate-{winner}"
        }


async def test_door_staff_scan_and_count_and_nothing_else(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        store, headers, base = await organizer_shop(
            client, platform, clock, types={"Free": 0}, quotas={"Hall": (5, ["Free"])}
        )
        org_id = base.split("/")[4]
        door_staff = auth(
            await invite_and_join(client, platform, headers, org_id, "door@example.org", "checkin")
        )
        door = (
            await client.post(f"{base}/checkin-lists", json={"name": "Door"}, headers=headers)
        ).json()
        order = await Buyer(client, store).buy(Free=1)
        (credential,) = await credentials(client, order)
        scanned = await client.post(
            f"{base}/checkin-lists/{door['id']}/scans",
            json={"credential": credential},
            headers=door_staff,
        )
        assert scanned.json()["result"] == "valid"
        assert scanned.json()["ticket"]["attendee_name"]
        listed = await client.get(f"{base}/checkin-lists", headers=door_staff)
        assert listed.json()[0]["checked_in"] == 1
        keys = await client.get(f"{base}/ticket-keys", headers=door_staff)
        assert keys.status_code == 200
        for method, path, body in [
            ("GET", f"{base}/orders/{order['number']}", None),
            ("GET", f"{base}/orders", None),
            ("POST", f"{base}/checkin-lists", {"name": "x"}),
            ("POST", f"{base}/orders/{order['number']}/cancel", {"reason": "x"}),
        ]:
            refused = await client.request(method, path, headers=door_staff, json=body)
            assert refused.status_code == 403, (method, path, refused.text)


async def test_a_scanner_works_offline_and_its_scans_are_reconciled(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    """The scanner downloads the list and the keys, checks tickets without the network,
    then uploads; a ticket let in at two doors meanwhile keeps its earliest entry, and the
    repeat is reported."""
    async with make_client(platform) as client:
        store, headers, base = await organizer_shop(
            client, platform, clock, types={"Free": 0}, quotas={"Hall": (10, ["Free"])}
        )
        door = (
            await client.post(f"{base}/checkin-lists", json={"name": "Door"}, headers=headers)
        ).json()
        order = await Buyer(client, store).buy(Free=3)
        one, two, three = await credentials(client, order)
        online_first = await client.post(
            f"{base}/checkin-lists/{door['id']}/scans",
            json={"credential": three, "gate": "online"},
            headers=headers,
        )
        assert online_first.json()["result"] == "valid"

        offline = await client.get(f"{base}/checkin-lists/{door['id']}/offline", headers=headers)
        assert offline.status_code == 200, offline.text
        pack = offline.json()
        keys = [
            Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(k)) for k in pack["keys"]
        ]
        tickets = {t["id"]: t for t in pack["tickets"]}
        for credential in (one, two, three):  # what the scanner checks on its own
            claim = read_claim(credential)
            assert claim is not None
            assert verify_offline(credential, keys)
            assert tickets[str(claim.ticket_id)]["version"] == claim.version
        assert tickets[str(read_claim(three).ticket_id)]["checked_in_at"]  # type: ignore[union-attr]

        earlier = clock.now() - timedelta(minutes=10)
        uploaded = await client.post(
            f"{base}/checkin-lists/{door['id']}/offline-scans",
            json={
                "scans": [
                    {"credential": one, "scanned_at": clock.now().isoformat(), "gate": "east"},
                    {"credential": two, "scanned_at": earlier.isoformat(), "gate": "west"},
                    {"credential": one, "scanned_at": earlier.isoformat(), "gate": "west"},
                    {"credential": three, "scanned_at": earlier.isoformat(), "gate": "west"},
                ]
            },
            headers=headers,
        )
        assert uploaded.status_code == 200, uploaded.text
        answers = uploaded.json()
        assert [a["result"] for a in answers] == ["already_used", "valid", "valid", "already_used"]
        assert answers[0]["first_gate"] == "west", "the earlier entry is the one kept"
        assert answers[3]["detail"] == "let in twice: this earlier offline scan is kept"
        assert answers[3]["repeated_gate"] == "online"
        lists = (await client.get(f"{base}/checkin-lists", headers=headers)).json()
        assert (lists[0]["checked_in"], lists[0]["expected"]) == (3, 3)

        naive = await client.post(
            f"{base}/checkin-lists/{door['id']}/offline-scans",
            json={"scans": [{"credential": one, "scanned_at": "2030-01-01T10:00:00"}]},
            headers=headers,
        )
        assert naive.status_code == 400, naive.text


async def test_exit_scans_and_reentry(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        store, headers, base = await organizer_shop(
            client, platform, clock, types={"Free": 0}, quotas={"Hall": (5, ["Free"])}
        )
        festival = (
            await client.post(
                f"{base}/checkin-lists", json={"name": "Festival", "reentry": True}, headers=headers
            )
        ).json()
        concert = (
            await client.post(f"{base}/checkin-lists", json={"name": "Concert"}, headers=headers)
        ).json()
        (credential,) = await credentials(client, await Buyer(client, store).buy(Free=1))

        async def scan(list_: dict[str, Any], direction: str) -> str:
            answer = await client.post(
                f"{base}/checkin-lists/{list_['id']}/scans",
                json={"credential": credential, "direction": direction},
                headers=headers,
            )
            assert answer.status_code == 200, answer.text
            result: str = answer.json()["result"]
            return result

        assert await scan(festival, "exit") == "not_inside"
        assert await scan(festival, "entry") == "valid"
        assert await scan(festival, "entry") == "already_used", "inside already"
        assert await scan(festival, "exit") == "exited"
        lists = {
            x["name"]: x
            for x in (await client.get(f"{base}/checkin-lists", headers=headers)).json()
        }
        assert (lists["Festival"]["checked_in"], lists["Festival"]["inside"]) == (1, 0)
        assert await scan(festival, "entry") == "valid", "back in"
        assert await scan(concert, "entry") == "valid"
        assert await scan(concert, "exit") == "exited"
        assert await scan(concert, "entry") == "already_used", "no re-entry on this list"
        lists = {
            x["name"]: x
            for x in (await client.get(f"{base}/checkin-lists", headers=headers)).json()
        }
        assert (lists["Festival"]["inside"], lists["Concert"]["inside"]) == (1, 0)

        # Out again, then shown at two gates at once (the ticket passed back over the fence):
        # one of them lets it back in.
        assert await scan(festival, "exit") == "exited"
        both = await asyncio.gather(scan(festival, "entry"), scan(festival, "entry"))
        assert sorted(both) == ["already_used", "valid"], both
        lists = {
            x["name"]: x
            for x in (await client.get(f"{base}/checkin-lists", headers=headers)).json()
        }
        assert lists["Festival"]["inside"] == 1


async def test_a_scanner_with_an_api_key_scans_and_its_use_is_recorded_after(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    """A door scanner signs in with an organization API key (scope ``checkin``). Its use is
    recorded in the scan's own unit of work: a second transaction inside the request would,
    on SQLite, wait for the write slot the scan itself holds (one did: it never answered)."""
    from boxoffice.core.identity.models import ApiKey

    async with make_client(platform) as client:
        store, headers, base = await organizer_shop(
            client, platform, clock, types={"Free": 0}, quotas={"Hall": (5, ["Free"])}
        )
        org_id = base.split("/")[4]
        made = await client.post(
            f"/api/v1/organizations/{org_id}/api-keys",
            json={"name": "gate scanners", "scopes": ["checkin"]},
            headers=headers,
        )
        assert made.status_code == 201, made.text
        door = auth(made.json()["key"])
        gates = await client.post(f"{base}/checkin-lists", json={"name": "Gates"}, headers=headers)
        (credential,) = await credentials(client, await Buyer(client, store).buy(Free=1))
        scans = f"{base}/checkin-lists/{gates.json()['id']}/scans"
        first = await asyncio.wait_for(
            client.post(scans, json={"credential": credential}, headers=door), timeout=30
        )
        assert first.status_code == 200, first.text
        assert first.json()["result"] == "valid"
        again = await client.post(scans, json={"credential": credential}, headers=door)
        assert again.json()["result"] == "already_used"
        assert (await client.get(f"{base}/orders", headers=door)).status_code == 403
    await platform.close()  # waits for what ran beside the requests
    async with platform.db.read() as session:
        (key,) = (await session.scalars(sa_select(ApiKey))).all()
    assert key.last_used_at is not None


async def test_the_door_answers_only_those_who_may_scan_there(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    """The scan authenticates and authorizes inside its own unit of work: the same answers
    as every other route (401, 403, 404 as problems), before anything about the ticket is
    told, and nothing is let in."""
    async with make_client(platform) as client:
        store, headers, base = await organizer_shop(
            client, platform, clock, types={"Free": 0}, quotas={"Hall": (5, ["Free"])}
        )
        org_id = base.split("/")[4]
        gates = await client.post(f"{base}/checkin-lists", json={"name": "Gates"}, headers=headers)
        scans = f"{base}/checkin-lists/{gates.json()['id']}/scans"
        (credential,) = await credentials(client, await Buyer(client, store).buy(Free=1))
        keys = f"/api/v1/organizations/{org_id}/api-keys"

        async def key(scopes: list[str]) -> dict[str, Any]:
            made = await client.post(keys, json={"name": "k", "scopes": scopes}, headers=headers)
            assert made.status_code == 201, made.text
            return dict(made.json())

        def problem(response: Any, status: int) -> None:
            assert response.status_code == status, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
            assert "result" not in response.json()

        body = {"credential": credential}
        problem(await client.post(scans, json=body), 401)
        problem(await client.post(scans, json=body, headers=auth("bxk_nope_nothing")), 401)
        problem(await client.post(scans, json=body, headers={"authorization": "Basic x"}), 401)
        forged = {"credential": "A" * len(credential)}
        problem(await client.post(scans, json=forged), 401)

        revoked = await key(["checkin"])
        gone = await client.delete(f"{keys}/{revoked['api_key']['id']}", headers=headers)
        assert gone.status_code == 204, gone.text
        problem(await client.post(scans, json=body, headers=auth(revoked["key"])), 401)
        wrong_scope = await key(["events:read"])
        problem(await client.post(scans, json=body, headers=auth(wrong_scope["key"])), 403)

        outsider = auth(await sign_up(client, platform, "outsider@example.org"))
        problem(await client.post(scans, json=body, headers=outsider), 404)
        staff = await invite_and_join(
            client, platform, headers, org_id, "door@example.org", "checkin"
        )
        ended = await client.post("/api/v1/auth/logout", headers=auth(staff))
        assert ended.status_code == 204, ended.text
        problem(await client.post(scans, json=body, headers=auth(staff)), 401)
        elsewhere = scans.replace(gates.json()["id"], str(uuid.uuid4()))
        problem(await client.post(elsewhere, json=body, headers=auth(wrong_scope["key"])), 403)

        good = await key(["checkin"])
        problem(await client.post(elsewhere, json=body, headers=auth(good["key"])), 404)
        lists = await client.get(f"{base}/checkin-lists", headers=headers)
        assert lists.json()[0]["checked_in"] == 0, "nothing was let in"
        let_in = await client.post(scans, json=body, headers=auth(good["key"]))
        assert let_in.json()["result"] == "valid"
