"""A fake of the part of Amazon SES (API v2) the ``ses`` channel uses: ``SendEmail`` with
a raw message (``POST /v2/email/outbound-emails``) and ``GetAccount``
(``GET /v2/email/account``), AWS's JSON error shape (``x-amzn-ErrorType``), and a request
signed with Signature Version 4 (the header's presence and credential scope are checked,
not the signature itself)."""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Mapping
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Any

from boxoffice.testing.fakes.base import FakeServer, Reply

ACCESS_KEY_ID = "boxoffice-fake-ses-access-key-id"  # not AWS-shaped: a test value
SECRET_ACCESS_KEY = "boxoffice-fake-ses-secret"  # noqa: S105 - the fake's own test secret
_ids = itertools.count(1)


def _error(status: int, code: str, message: str) -> Reply:
    return Reply(status, {"message": message}, headers={"x-amzn-ErrorType": code})


class FakeSes(FakeServer):
    def __init__(self, access_key_id: str = ACCESS_KEY_ID) -> None:
        super().__init__()
        self.access_key_id = access_key_id
        #: What was sent, parsed: (the request's JSON, the e-mail).
        self.sent: list[tuple[dict[str, Any], EmailMessage]] = []
        #: Recipients SES refuses (e.g. on its suppression list): code by address.
        self.refusals: dict[str, str] = {}
        self.sending_enabled = True

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Reply:
        authorization = headers.get("authorization", "")
        if not authorization.startswith(f"AWS4-HMAC-SHA256 Credential={self.access_key_id}/"):
            return _error(403, "UnrecognizedClientException", "The security token is invalid.")
        if "/ses/aws4_request" not in authorization:
            return _error(403, "InvalidSignatureException", "Credential should be scoped to ses.")
        if (method, path) == ("GET", "/v2/email/account"):
            return Reply(
                200, {"SendingEnabled": self.sending_enabled, "EnforcementStatus": "HEALTHY"}
            )
        if (method, path) == ("POST", "/v2/email/outbound-emails"):
            return self._send(json.loads(body or b"{}"))
        return _error(404, "NotFoundException", f"no route {method} {path}")

    def _send(self, request: dict[str, Any]) -> Reply:
        raw = request.get("Content", {}).get("Raw", {}).get("Data")
        to = request.get("Destination", {}).get("ToAddresses", [])
        if not raw or not to or not request.get("FromEmailAddress"):
            return _error(400, "BadRequestException", "Raw content and a destination are needed.")
        if not self.sending_enabled:
            return _error(400, "SendingPausedException", "Sending is paused for this account.")
        for address in to:
            if address in self.refusals:
                return _error(
                    400, self.refusals[address], f"Email address is on the list: {address}"
                )
        email = message_from_bytes(base64.b64decode(raw), policy=default)
        assert isinstance(email, EmailMessage)
        self.sent.append((request, email))
        return Reply(200, {"MessageId": f"0100019fake{next(_ids):08d}-ses"})

    def received(self, to: str) -> list[EmailMessage]:
        return [
            email for request, email in self.sent if to in request["Destination"]["ToAddresses"]
        ]
