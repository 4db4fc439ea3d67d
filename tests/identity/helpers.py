"""Driving the identity API the way a client does, and reading what the platform e-mailed."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from boxoffice.platform import Platform
from boxoffice.testing.smtp import SmtpReceiver

PASSWORD = "correct horse battery staple"


def auth(tokens: dict[str, Any] | str) -> dict[str, str]:
    token = tokens if isinstance(tokens, str) else tokens["access_token"]
    return {"authorization": f"Bearer {token}"}


async def mail_to(
    platform: Platform, address: str, template: str | None = None
) -> list[dict[str, Any]]:
    """Deliver what is queued, then read the ``log`` channel's files for ``address``."""
    await platform.dispatcher.run_until_idle()
    outbox = Path(platform.settings.data_dir) / "outbox"
    messages = (
        [json.loads(p.read_text()) for p in sorted(outbox.glob("*.json"))]
        if outbox.exists()
        else []
    )
    return [
        m
        for m in messages
        if m["to"] == address and (template is None or m["template"] == template)
    ]


async def link_token(
    platform: Platform, address: str, template: str, smtp: SmtpReceiver | None = None
) -> str:
    """The token in the newest ``template`` message to ``address``: from the ``log``
    channel's files, or from what ``smtp`` received when the platform sends e-mail there."""
    if smtp is None:
        messages = await mail_to(platform, address, template)
        assert messages, f"no {template} message to {address}"
        text = messages[-1]["text"]
    else:
        await platform.dispatcher.run_until_idle()
        received = smtp.received(address)
        assert received, f"no message to {address}"
        body = received[-1].get_body(("plain",))
        assert body is not None
        text = str(body.get_content())
    match = re.search(r"token=(\S+)", text)
    assert match, text
    return unquote(match.group(1))


async def sign_up(
    client: Any,
    platform: Platform,
    email: str,
    password: str = PASSWORD,
    smtp: SmtpReceiver | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Register, verify, sign in: the tokens."""
    response = await client.post(
        "/api/v1/auth/register", json={"email": email, "password": password, **extra}
    )
    assert response.status_code == 202, response.text
    token = await link_token(platform, email.lower(), "verify-email", smtp)
    verified = await client.post("/api/v1/auth/verify-email", json={"token": token})
    assert verified.status_code == 200, verified.text
    return await sign_in(client, email, password)


async def sign_in(client: Any, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


async def make_admin(platform: Platform, email: str) -> None:
    from sqlalchemy import update

    from boxoffice.core.identity.models import User

    async with platform.db.transaction() as session:
        await session.execute(update(User).where(User.email == email).values(platform_role="admin"))


async def organization(client: Any, tokens: dict[str, Any], slug: str) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/organizations", json={"slug": slug, "name": slug.title()}, headers=auth(tokens)
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


class client_addresses:
    """The app, seeing the client address a test names in ``x-test-client`` (the test client
    is always 127.0.0.1), as a trusted proxy's X-Forwarded-For would make it."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def lifespan(self) -> Any:
        return self.app.lifespan()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            named = dict(scope["headers"]).get(b"x-test-client")
            if named:
                scope = {**scope, "client": (named.decode(), 40000)}
        await self.app(scope, receive, send)


async def invite_and_join(
    client: Any, platform: Platform, owner: dict[str, str], org_id: str, email: str, role: str
) -> dict[str, Any]:
    """``email`` signs up and joins the organization as ``role`` (``owner``: the inviter's
    auth headers); their tokens."""
    sent = await client.post(
        f"/api/v1/organizations/{org_id}/invitations",
        headers=owner,
        json={"email": email, "role": role},
    )
    assert sent.status_code == 201, sent.text
    tokens = await sign_up(client, platform, email)
    token = await link_token(platform, email, "organization-invitation")
    joined = await client.post(
        "/api/v1/organizations/invitations/accept", headers=auth(tokens), json={"token": token}
    )
    assert joined.status_code == 200, joined.text
    assert joined.json()["role"] == role
    return tokens
