"""Secrets in buyers' links (an order, a hold, a waiting-list entry), never stored.

A buyer needs no account: the link they are given (``/orders/{number}?secret=...``) is
their proof. The database keeps only the SHA-256 of each secret, like every other token,
so a copy of it (a backup, a replica, a leaked dump) opens nobody's order. Yet the platform
must be able to send the link again after the request that made it: the confirmation of an
order paid later, a waiting-list offer made by the sweeper. So a secret is not random but
derived, ``HMAC-SHA256(link key, "kind:id")``: nothing secret is stored, and whoever holds
the key can recompute it. The link key is itself derived from the platform's secret key
(``BOXOFFICE_SECRET_KEY``, or the generated key file); rotating that key keeps old links
working, since they are checked against the stored hash, and :meth:`LinkSecrets.recover`
finds the secret of a link made under a previous key (``BOXOFFICE_PREVIOUS_SECRET_KEYS``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Sequence
from enum import StrEnum
from typing import NamedTuple

from boxoffice.core.errors import ConfigurationError
from boxoffice.core.ids import new_id

#: Domain separation: the link key is never the key that signs access tokens.
_PURPOSE = b"boxoffice/link-secrets/v1"
#: 18 bytes of the MAC: 144 bits, 24 URL-safe characters (what random secrets had).
_SECRET_BYTES = 18


class LinkKind(StrEnum):
    ORDER = "order"
    HOLD = "hold"
    WAITLIST_ENTRY = "waitlist"
    #: The one-click unsubscribe link of an e-mail address (its "id" is the address).
    UNSUBSCRIBE = "unsubscribe"
    #: Not a link: the reference that replaces an erased person (its "id" is the account's).
    PSEUDONYM = "pseudonym"
    #: The download of a person's copy of their data.
    DATA_EXPORT = "data-export"
    #: Not a link: a webhook endpoint's signing secret (its "address" is the endpoint's id
    #: and the secret's generation).
    WEBHOOK_SECRET = "webhook-secret"  # noqa: S105 - a kind of derived secret, not one


def secret_hash(secret: str) -> str:
    """What the database keeps of a link's secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(given: str | None, stored_hash: str) -> bool:
    """Whether ``given`` is the secret whose hash is stored (constant time)."""
    if not given:
        return False
    return hmac.compare_digest(secret_hash(given).encode(), stored_hash.encode())


class Link(NamedTuple):
    """The id of something reached by a secret link, and what is stored of its secret."""

    id: uuid.UUID
    secret_hash: str
    #: The secret itself, when it was just made (to answer with it).
    secret: str | None = None


class LinkSecrets:
    """Derives link secrets with the current key; recovers those of previous keys."""

    def __init__(self, platform_keys: Sequence[str]) -> None:
        if not platform_keys or not all(platform_keys):
            raise ConfigurationError("link secrets need the platform's secret key")
        self._keys = [
            hmac.new(key.encode(), _PURPOSE, hashlib.sha256).digest() for key in platform_keys
        ]

    def new(self, kind: LinkKind) -> Link:
        """A new id and its link's secret (current key)."""
        id_ = new_id()
        secret = _derive(self._keys[0], kind, id_)
        return Link(id_, secret_hash(secret), secret)

    def recover(self, kind: LinkKind, id_: uuid.UUID, stored_hash: str) -> str | None:
        """The secret whose hash is stored, if one of the keys made it (``None`` for a link
        made before secrets were derived, or under a key no longer configured)."""
        for key in self._keys:
            secret = _derive(key, kind, id_)
            if secret_matches(secret, stored_hash):
                return secret
        return None

    def for_address(self, kind: LinkKind, address: str) -> str:
        """The secret of a link about an address rather than a row (unsubscribing it)."""
        return _derive(self._keys[0], kind, address)

    def recover_for_address(self, kind: LinkKind, address: str, stored_hash: str) -> str | None:
        """The secret of ``address`` whose hash is stored, under whichever key made it."""
        for key in self._keys:
            secret = _derive(key, kind, address)
            if secret_matches(secret, stored_hash):
                return secret
        return None

    def address_matches(self, kind: LinkKind, address: str, given: str) -> bool:
        """Whether ``given`` is the secret of ``address``'s link under any configured key."""
        return any(hmac.compare_digest(_derive(key, kind, address), given) for key in self._keys)


def _derive(key: bytes, kind: LinkKind, id_: uuid.UUID | str) -> str:
    mac = hmac.new(key, f"{kind}:{id_}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:_SECRET_BYTES]).decode()
