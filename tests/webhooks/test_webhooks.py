"""Outgoing webhooks over real HTTP on both engines: a delivery is signed and a receiver
verifies it with the recipe in docs/webhooks.md, run as written; it carries the request id
of the request that caused it; failures are retried with backoff, logged and can be sent
again by hand; an endpoint that keeps failing is turned off and its owners told; loopback and
private addresses are refused; two senders never send one delivery twice; an erasure tells
the receivers which order to forget."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import re
import socket
from pathlib import Path
from typing import Any

import msgspec
import pytest

from boxoffice.core.clock import ManualClock
from boxoffice.core.webhooks import addresses, delivery
from boxoffice.core.webhooks.delivery import WebhookSender
from boxoffice.platform import Platform
from tests import factories
from tests.booking.helpers import Buyer, organizer_shop
from tests.booking.test_checkout import checkout
from tests.identity.helpers import PASSWORD, auth, invite_and_join, mail_to, sign_in, sign_up
from tests.webhooks.receiver import receiver

BOSS = "boss@example.org"
RECIPE = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def documented_verify() -> Any:
    """``verify`` from the receiver's recipe in docs/webhooks.md, exactly as written."""
    text = RECIPE.read_text(encoding="utf-8")
    (code,) = [
        block
        for block in re.findall(r"```python\n(.*?)```", text, re.DOTALL)
        if "def verify" in block
    ]
    namespace: dict[str, Any] = {}
    exec(compile(code, str(RECIPE), "exec"), namespace)
    return namespace["verify"]


@pytest.fixture
def platform(make_platform: factories.MakePlatform) -> Platform:
    built = make_platform(config=factories.PLUGINS_TOML, entry_points=True)
    allow_private(built, True)  # the receiver listens on loopback
    return built


def allow_private(platform: Platform, allowed: bool) -> None:
    platform.settings = msgspec.structs.replace(platform.settings, webhooks_allow_private=allowed)
    platform.webhooks.allow_private = allowed


async def deliver(platform: Platform) -> int:
    await platform.dispatcher.run_until_idle()
    return await platform.webhooks.deliver_due()


async def register(
    client: Any, base_org: str, headers: dict[str, str], url: str, **extra: Any
) -> Any:
    return await client.post(f"{base_org}/webhooks", json={"url": url, **extra}, headers=headers)


async def test_a_signed_delivery_verified_with_the_documented_recipe_then_retries_and_resend(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    verify = documented_verify()
    with receiver() as hook:
        async with make_client(platform) as client:
            store, headers, base = await organizer_shop(client, platform, clock)
            org = base.split("/events/")[0]
            created = await register(client, org, headers, hook.url, entry_types=["OrderConfirmed"])
            assert created.status_code == 201, created.text
            endpoint = created.json()
            secret = endpoint["secret"]
            assert secret.startswith("whsec_")
            listed = await client.get(f"{org}/webhooks", headers=headers)
            assert secret not in listed.text, "the secret is shown once"

            order = await Buyer(client, store).buy(Standard=2)
            paid = await client.post(f"{base}/orders/{order['number']}/mark-paid", headers=headers)
            assert await deliver(platform) == 1
            (got,) = hook.received
            event = verify(
                secret, got.headers["boxoffice-signature"], got.body, now=clock.now().timestamp()
            )
            assert event["type"] == "OrderConfirmed"
            assert event["schema_version"] == 2
            assert event["data"]["number"] == order["number"]
            assert [line["quantity"] for line in event["data"]["lines"]] == [2]
            assert got.headers["x-request-id"] == paid.headers["x-request-id"], "correlated"
            assert event["request_id"] == paid.headers["x-request-id"]
            assert "buyer@example.org" not in got.body.decode(), "no personal data travels"
            for forged in (got.body.replace(b"5000", b"1"), got.body + b" "):
                with pytest.raises(ValueError, match="does not match"):
                    verify(
                        secret,
                        got.headers["boxoffice-signature"],
                        forged,
                        now=clock.now().timestamp(),
                    )
            with pytest.raises(ValueError, match="too old"):
                verify(
                    secret,
                    got.headers["boxoffice-signature"],
                    got.body,
                    now=clock.now().timestamp() + 3600,
                )

            hook.status = 500
            clock.advance(seconds=1)
            second = await Buyer(client, store, "two@example.org").buy(Standard=1)
            await client.post(f"{base}/orders/{second['number']}/mark-paid", headers=headers)
            assert await deliver(platform) == 1
            assert await platform.webhooks.deliver_due() == 0, "not due again yet"
            deliveries = f"{org}/webhooks/{endpoint['id']}/deliveries"
            pending = (
                await client.get(deliveries, params={"status": "pending"}, headers=headers)
            ).json()["items"]
            assert [(d["attempts"], d["last_status_code"]) for d in pending] == [(1, 500)]
            hook.status = 200
            clock.advance(seconds=40)
            assert await platform.webhooks.deliver_due() == 1
            log = (await client.get(deliveries, headers=headers)).json()["items"]
            assert [d["status"] for d in log] == ["delivered", "delivered"]
            assert [a["status_code"] for a in log[0]["log"]] == [500, 200]
            assert len(hook.received) == 3
            assert (
                json.loads(hook.received[1].body)["id"] == json.loads(hook.received[2].body)["id"]
            )

            again = await client.post(f"{deliveries}/{log[1]['id']}/send-again", headers=headers)
            assert again.status_code == 202, again.text
            assert await platform.webhooks.deliver_due() == 1
            assert json.loads(hook.received[-1].body)["data"]["number"] == order["number"]

            rotated = await client.post(
                f"{org}/webhooks/{endpoint['id']}/rotate-secret", headers=headers
            )
            new_secret = rotated.json()["secret"]
            assert new_secret != secret
            await client.post(f"{deliveries}/{log[1]['id']}/send-again", headers=headers)
            await platform.webhooks.deliver_due()
            latest = hook.received[-1]
            verify(
                new_secret,
                latest.headers["boxoffice-signature"],
                latest.body,
                now=clock.now().timestamp(),
            )
            with pytest.raises(ValueError, match="does not match"):
                verify(
                    secret,
                    latest.headers["boxoffice-signature"],
                    latest.body,
                    now=clock.now().timestamp(),
                )


async def test_an_endpoint_that_keeps_failing_is_turned_off_and_its_owners_told(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    with receiver() as hook:
        hook.status = 503
        async with make_client(platform) as client:
            store, headers, base = await organizer_shop(client, platform, clock, email=BOSS)
            org = base.split("/events/")[0]
            endpoint = (await register(client, org, headers, hook.url)).json()
            order = await Buyer(client, store).buy(Standard=1)
            await deliver(platform)
            for _ in range(12):
                clock.advance(hours=7)
                await platform.webhooks.deliver_due()
            headers = auth(await sign_in(client, BOSS))
            shown = (await client.get(f"{org}/webhooks/{endpoint['id']}", headers=headers)).json()
            assert shown["status"] == "disabled"
            assert "HTTP 503" in shown["disabled_reason"]
            (mail,) = await mail_to(platform, BOSS, "webhook-disabled")
            assert hook.url in mail["text"]
            failed = (
                await client.get(f"{org}/webhooks/{endpoint['id']}/deliveries", headers=headers)
            ).json()["items"]
            assert {d["status"] for d in failed} == {"failed"}
            tried = len(hook.received)
            await client.post(
                f"{base}/orders/{order['number']}/cancel", json={"reason": "x"}, headers=headers
            )
            await deliver(platform)
            assert len(hook.received) == tried, "nothing goes to a disabled endpoint"

            hook.status = 200
            back = await client.patch(
                f"{org}/webhooks/{endpoint['id']}", json={"enabled": True}, headers=headers
            )
            assert back.json()["status"] == "active"
            resend = f"{org}/webhooks/{endpoint['id']}/deliveries/{failed[0]['id']}/send-again"
            assert (await client.post(resend, headers=headers)).status_code == 202
            assert await platform.webhooks.deliver_due() == 1
            assert hook.received[-1].headers["boxoffice-delivery"] == failed[0]["id"]


async def test_loopback_and_private_addresses_are_refused(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    allow_private(platform, False)
    async with make_client(platform) as client:
        store, headers, base = await organizer_shop(client, platform, clock)
        org = base.split("/events/")[0]
        for url, why in (
            ("https://127.0.0.1/hooks", "private, loopback or reserved"),
            ("https://localhost:8443/hooks", "private, loopback or reserved"),
            ("https://[::1]/hooks", "private, loopback or reserved"),
            ("https://[::ffff:127.0.0.1]/hooks", "private, loopback or reserved"),
            ("https://169.254.169.254/latest/meta-data", "private, loopback or reserved"),
            ("https://10.1.2.3/hooks", "private, loopback or reserved"),
            ("http://93.184.215.14/hooks", "HTTPS only"),
            ("https://user:pw@93.184.215.14/hooks", "no user name"),
        ):
            refused = await register(client, org, headers, url)
            assert refused.status_code == 422, (url, refused.text)
            assert refused.json()["type"].endswith("/webhook-url-refused")
            assert why in refused.json()["detail"], refused.json()["detail"]
        assert (await client.get(f"{org}/webhooks", headers=headers)).json() == []
        unknown = await register(
            client, org, headers, "https://93.184.215.14/h", entry_types=["Nope"]
        )
        assert unknown.status_code == 400

        with receiver() as hook:  # registered while allowed, then ops turn it off
            allow_private(platform, True)
            registered = await register(client, org, headers, hook.url, entry_types=["OrderPlaced"])
            assert registered.status_code == 201
            allow_private(platform, False)
            await Buyer(client, store).buy(Standard=1)
            assert await deliver(platform) == 1
            assert hook.received == [], "checked again before every delivery"
            (endpoint,) = (await client.get(f"{org}/webhooks", headers=headers)).json()
            log = (
                await client.get(f"{org}/webhooks/{endpoint['id']}/deliveries", headers=headers)
            ).json()["items"]
            assert "HTTPS only" in log[0]["last_error"]


async def test_a_name_rebound_to_loopback_after_the_check_is_never_connected_to(
    platform: Platform, make_client: Any, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the endpoint's name resolves to a public address when it is registered
    and when the delivery is checked, and to loopback an instant later, when the request
    connects. The sender connects only to addresses it checked as it connected: the service
    listening on loopback is never reached, and the delivery's log says why."""
    allow_private(platform, False)
    accepted: list[object] = []
    listener = await asyncio.start_server(
        lambda _reader, writer: (accepted.append(writer), writer.close()), "127.0.0.1", 0
    )
    port = listener.sockets[0].getsockname()[1]
    rebound = asyncio.Event()
    looked_up = addresses._addresses

    async def attackers_dns(host: str, port: int) -> list[Any]:
        if host == "hooks.rebind.example" and not rebound.is_set():
            return [ipaddress.ip_address("93.184.215.14")]  # public, while checked
        return await looked_up("localhost" if host == "hooks.rebind.example" else host, port)

    async def check_then_rebind(url: str, *, allow_private: bool) -> None:
        await addresses.check_url(url, allow_private=allow_private)
        rebound.set()  # the name's next answer is loopback

    monkeypatch.setattr(addresses, "_addresses", attackers_dns)
    monkeypatch.setattr(delivery, "check_url", check_then_rebind)
    # Without the sender's own resolver, its HTTP client would ask the system: loopback.
    monkeypatch.setattr(socket, "getaddrinfo", _names_as_localhost(socket.getaddrinfo))
    try:
        async with make_client(platform) as client:
            store, headers, base = await organizer_shop(client, platform, clock)
            org = base.split("/events/")[0]
            url = f"https://hooks.rebind.example:{port}/hooks"
            registered = await register(client, org, headers, url, entry_types=["OrderPlaced"])
            assert registered.status_code == 201, registered.text
            rebound.clear()
            await Buyer(client, store).buy(Standard=1)
            assert await deliver(platform) == 1
            assert rebound.is_set(), "the delivery was checked against the public address"
            endpoint = registered.json()["id"]
            log = (
                await client.get(f"{org}/webhooks/{endpoint}/deliveries", headers=headers)
            ).json()["items"]
    finally:
        listener.close()
        await listener.wait_closed()
    assert accepted == [], "a connection reached the service on loopback"
    assert (
        "resolves to 127.0.0.1, a private, loopback or reserved address" in log[0]["last_error"]
    ), log[0]


def _names_as_localhost(getaddrinfo: Any) -> Any:
    def answer(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host  # anyio passes bytes
        return getaddrinfo("localhost" if name == "hooks.rebind.example" else host, *args, **kwargs)

    return answer


async def test_two_senders_never_send_one_delivery_twice(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    with receiver() as hook:
        async with make_client(platform) as client:
            store, headers, base = await organizer_shop(client, platform, clock)
            org = base.split("/events/")[0]
            await register(client, org, headers, hook.url, entry_types=["OrderPlaced"])
            for n in range(6):
                await Buyer(client, store, f"b{n}@example.org").buy(Standard=1)
            await platform.dispatcher.run_until_idle()
            senders = [
                WebhookSender(platform.db, clock, platform.links, allow_private=True)
                for _ in range(3)
            ]
            try:
                await asyncio.gather(*(s.deliver_due(limit=2) for s in senders * 2))
            finally:
                for sender in senders:
                    await sender.close()
    ids = [json.loads(r.body)["id"] for r in hook.received]
    assert len(ids) == 6
    assert len(set(ids)) == 6


async def test_an_erasure_tells_the_receivers_which_order_to_forget(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    with receiver() as hook:
        async with make_client(platform) as client:
            store, headers, base = await organizer_shop(client, platform, clock)
            org = base.split("/events/")[0]
            await register(client, org, headers, hook.url, entry_types=["OrderPseudonymised"])
            ada = await sign_up(client, platform, "ada@example.org")
            sold = await checkout(client, store, email="ada@example.org")
            number = sold.json()["number"]
            await client.post(f"{base}/orders/{number}/mark-paid", headers=headers)
            erased = await client.post(
                "/api/v1/me/erase", headers=auth(ada), json={"password": PASSWORD}
            )
            assert erased.status_code == 200, erased.text
            await deliver(platform)
    (got,) = hook.received
    event = json.loads(got.body)
    assert (event["type"], event["data"]["number"], event["data"]["reason"]) == (
        "OrderPseudonymised",
        number,
        "erasure",
    )
    assert "ada@example.org" not in got.body.decode()


async def test_only_owners_and_admins_manage_webhooks(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        _, headers, base = await organizer_shop(client, platform, clock)
        org = base.split("/events/")[0]
        org_id = org.rsplit("/", 1)[1]
        staff = await invite_and_join(
            client, platform, headers, org_id, "staff@example.org", "staff"
        )
        assert (await client.get(f"{org}/webhooks", headers=auth(staff))).status_code == 403
        key = await client.post(
            f"{org}/api-keys", headers=headers, json={"name": "sync", "scopes": ["webhooks:manage"]}
        )
        assert key.status_code == 400, "an API key cannot carry it"
        types = (await client.get(f"{org}/webhooks/entry-types", headers=headers)).json()
        assert {"OrderConfirmed", "OrderPseudonymised", "EventStatusChanged"} <= set(types)
        assert "UserRegistered" not in types, "a person's account is not an organization's"
