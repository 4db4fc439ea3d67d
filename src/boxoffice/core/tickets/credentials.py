"""Ticket credentials: what a ticket's QR code carries, signed so that a scanner can check
it without asking the server.

A credential is ``base64url(payload || signature)``: the payload is a format byte, the
event's id, the ticket's id and the ticket's version (16-bit); the signature is Ed25519 over
the payload with the event's own key. A scanner that downloaded the event's public keys
verifies a credential offline (a copy from another event fails: it names that event); a
reissued ticket has a higher version, so the old credential, still correctly signed, is
refused by the server and by any scanner that has the current list.

Nothing is stored: an event's key pair is derived from the platform's secret key
(``HMAC-SHA256(ticket key, event id)`` is the Ed25519 seed), so the platform can draw a
ticket again at any time and every process signs alike. After a rotation of the platform's
key (``BOXOFFICE_PREVIOUS_SECRET_KEYS``) tickets drawn under the previous key still verify:
an event's public keys are listed current first.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import uuid
from collections.abc import Sequence
from typing import NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from boxoffice.core.errors import ConfigurationError

#: Domain separation from the platform key's other uses (tokens, link secrets).
_PURPOSE = b"boxoffice/ticket-keys/v1"
_FORMAT = 1
_PAYLOAD = struct.Struct(">B16s16sH")
_SIGNATURE_BYTES = 64
#: The highest version a ticket's credential can reach (16 bits in the payload).
MAX_VERSION = 0xFFFF
#: The characters a credential has (for the API's schema): 99 bytes in base64url.
CREDENTIAL_LENGTH = 132


class TicketClaim(NamedTuple):
    """What a verified credential says."""

    event_id: uuid.UUID
    ticket_id: uuid.UUID
    version: int


#: Events whose keys are kept derived (a forged event id cannot grow it further).
_KEPT_SIGNERS = 1024


class TicketKeys:
    """Signs and verifies the credentials of every event's tickets."""

    def __init__(self, platform_keys: Sequence[str]) -> None:
        if not platform_keys or not all(platform_keys):
            raise ConfigurationError("ticket credentials need the platform's secret key")
        self._roots = [
            hmac.new(key.encode(), _PURPOSE, hashlib.sha256).digest() for key in platform_keys
        ]
        #: Each event's private keys, derived once: the door checks thousands a minute.
        self._signers: dict[uuid.UUID, list[Ed25519PrivateKey]] = {}

    def _private(self, root: bytes, event_id: uuid.UUID) -> Ed25519PrivateKey:
        seed = hmac.new(root, event_id.bytes, hashlib.sha256).digest()
        return Ed25519PrivateKey.from_private_bytes(seed)

    def public_keys(self, event_id: uuid.UUID) -> list[bytes]:
        """The event's public keys (raw 32 bytes), the one signing now first."""
        return [
            self._private(root, event_id).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
            for root in self._roots
        ]

    def published_keys(self, event_id: uuid.UUID) -> list[str]:
        """:meth:`public_keys` as scanners get them: base64url."""
        return [base64.urlsafe_b64encode(key).decode() for key in self.public_keys(event_id)]

    def credential(self, event_id: uuid.UUID, ticket_id: uuid.UUID, version: int) -> str:
        payload = _PAYLOAD.pack(_FORMAT, event_id.bytes, ticket_id.bytes, version)
        signature = self._private(self._roots[0], event_id).sign(payload)
        return base64.urlsafe_b64encode(payload + signature).decode()

    def verify(self, credential: str) -> TicketClaim | None:
        """The claim of a credential one of the event's keys signed; ``None`` otherwise.

        The server holds the private keys, and Ed25519 signatures are deterministic (RFC
        8032): signing the payload again and comparing the signatures (in constant time)
        checks exactly what verifying does, at a third of the cost (~30 µs instead of
        ~100 µs here; a tenth of a scan's CPU). Scanners, with only the public keys, verify
        (:func:`verify_offline`)."""
        claim = read_claim(credential)
        if claim is None:
            return None
        signers = self._signers.get(claim.event_id)
        if signers is None:
            if len(self._signers) >= _KEPT_SIGNERS:
                self._signers.clear()
            signers = self._signers[claim.event_id] = [
                self._private(root, claim.event_id) for root in self._roots
            ]
        raw = _decode(credential)
        assert raw is not None  # read_claim decoded it
        payload, signature = raw[: _PAYLOAD.size], raw[_PAYLOAD.size :]
        for key in signers:
            if hmac.compare_digest(key.sign(payload), signature):
                return claim
        return None


def read_claim(credential: str) -> TicketClaim | None:
    """What a credential claims, unverified (``None`` if it is not one at all)."""
    raw = _decode(credential)
    if raw is None:
        return None
    form, event, ticket, version = _PAYLOAD.unpack(raw[: _PAYLOAD.size])
    if form != _FORMAT:
        return None
    return TicketClaim(uuid.UUID(bytes=event), uuid.UUID(bytes=ticket), version)


def verify_offline(credential: str, public_keys: Sequence[Ed25519PublicKey]) -> bool:
    """Whether one of an event's ``public_keys`` signed ``credential``: what a scanner
    does without the server (the keys from ``GET .../ticket-keys``)."""
    raw = _decode(credential)
    if raw is None:
        return False
    payload, signature = raw[: _PAYLOAD.size], raw[_PAYLOAD.size :]
    for key in public_keys:
        try:
            key.verify(signature, payload)
        except InvalidSignature:
            continue
        return True
    return False


def _decode(credential: str) -> bytes | None:
    if len(credential) != CREDENTIAL_LENGTH:
        return None
    try:
        raw = base64.urlsafe_b64decode(credential.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None
    return raw if len(raw) == _PAYLOAD.size + _SIGNATURE_BYTES else None
