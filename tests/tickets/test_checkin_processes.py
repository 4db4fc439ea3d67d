"""Two server processes on one database, each scanning the same ticket at the same moment:
the ticket is let in once (on both engines)."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx

from boxoffice.demo import DEMO_EMAIL, DEMO_PASSWORD
from boxoffice.testing import ServerProcesses
from tests.servers import demo_environment


def test_two_processes_let_a_ticket_in_once(db_url: str, tmp_path: Path) -> None:
    env = demo_environment(db_url, tmp_path / "data")
    with ServerProcesses(2, env) as urls, httpx.Client(timeout=30) as http:
        token = http.post(
            f"{urls[0]}/api/v1/auth/login", json={"email": DEMO_EMAIL, "password": DEMO_PASSWORD}
        ).json()["access_token"]
        staff = {"authorization": f"Bearer {token}"}
        event = http.get(f"{urls[0]}/api/v1/events").json()["items"][0]
        ticket_type = http.get(f"{urls[0]}/api/v1/events/{event['id']}/ticket-types").json()[0]
        order = http.post(
            f"{urls[0]}/api/v1/events/{event['id']}/orders",
            json={
                "items": [{"ticket_type_id": ticket_type["id"], "quantity": 1}],
                "buyer": {"name": "Door Test", "email": "door@example.org"},
            },
        ).json()
        base = f"/api/v1/organizations/{event['organization_id']}/events/{event['id']}"
        if order["status"] != "confirmed":  # a paid ticket: the organizer takes the money
            paid = http.post(f"{urls[0]}{base}/orders/{order['number']}/mark-paid", headers=staff)
            assert paid.status_code == 200, paid.text
        door = http.post(f"{urls[0]}{base}/checkin-lists", json={"name": "Door"}, headers=staff)
        assert door.status_code == 201, door.text
        (ticket,) = http.get(
            f"{urls[1]}/api/v1/orders/{order['number']}/tickets",
            params={"secret": order["secret"]},
        ).json()
        start, results = threading.Barrier(6), []

        def scanner(index: int) -> None:
            with httpx.Client(timeout=30) as own:
                start.wait()
                answer = own.post(
                    f"{urls[index % 2]}{base}/checkin-lists/{door.json()['id']}/scans",
                    json={"credential": ticket["credential"], "gate": f"gate-{index}"},
                    headers=staff,
                )
                results.append(answer.json()["result"])

        threads = [threading.Thread(target=scanner, args=(i,)) for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(results) == ["already_used"] * 5 + ["valid"], results
