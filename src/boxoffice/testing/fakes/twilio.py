"""A fake of the part of Twilio's REST API the ``twilio`` channel uses: creating a Message
(form-encoded, HTTP Basic authentication with the account SID and auth token) and fetching
the Account, with Twilio's error bodies (``{"code": 21211, "message": ..., "status": 400}``)."""

from __future__ import annotations

import base64
import itertools
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from boxoffice.testing.fakes.base import FakeServer, Reply

ACCOUNT_SID = "ACboxofficefake00000000000000000000"
AUTH_TOKEN = "boxoffice_fake_twilio_token"  # noqa: S105 - the fake's own test secret
FROM_NUMBER = "+15005550006"
_ids = itertools.count(1)


def _error(status: int, code: int, message: str) -> Reply:
    return Reply(status, {"code": code, "message": message, "status": status})


class FakeTwilio(FakeServer):
    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN) -> None:
        super().__init__()
        self.account_sid, self.auth_token = account_sid, auth_token
        self.messages: list[dict[str, Any]] = []
        #: Numbers Twilio refuses, with its error code (21610: the recipient sent STOP).
        self.refusals: dict[str, int] = {}

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Reply:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if headers.get("authorization") != f"Basic {expected}":
            return _error(401, 20003, "Authenticate")
        account = f"/2010-04-01/Accounts/{self.account_sid}"
        if (method, path) == ("GET", f"{account}.json"):
            return Reply(200, {"sid": self.account_sid, "status": "active"})
        if (method, path) == ("POST", f"{account}/Messages.json"):
            return self._create(dict(parse_qsl(body.decode())))
        return _error(404, 20404, f"The requested resource {path} was not found")

    def _create(self, form: dict[str, str]) -> Reply:
        to = form.get("To", "")
        if not to.startswith("+") or not to[1:].isdigit():
            return _error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if to in self.refusals:
            return _error(400, self.refusals[to], "Attempt to send to unsubscribed recipient")
        if not form.get("Body") or not (form.get("From") or form.get("MessagingServiceSid")):
            return _error(400, 21602, "Message body and a sender are required.")
        message = {
            "sid": f"SM{next(_ids):032d}",
            "to": to,
            "from": form.get("From"),
            "body": form["Body"],
            "status": "queued",
        }
        self.messages.append(message)
        return Reply(201, message)

    def received(self, to: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["to"] == to]
