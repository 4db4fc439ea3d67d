"""Tokens: signed access tokens (JWT) and opaque secrets stored only as hashes.

Access tokens are short-lived JWTs signed with HS256 (a shared secret) or Ed25519, carrying a
``kid`` so keys can rotate: the first key signs, every listed key verifies. Everything else a
client holds (refresh tokens, e-mail links, invitation links, API keys) is an opaque random
string whose SHA-256 is all the database keeps.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import msgspec
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, OctKey, OKPKey

from boxoffice.core.errors import ConfigurationError, Unauthorized

ALGORITHMS = ("HS256", "Ed25519")
MIN_SECRET_LENGTH = 32


def new_secret(prefix: str, nbytes: int = 32) -> str:
    return f"{prefix}_{secrets.token_urlsafe(nbytes)}"


def hash_secret(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def secrets_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class AccessClaims(msgspec.Struct, frozen=True):
    user_id: uuid.UUID
    session_id: uuid.UUID
    expires_at: datetime


class TokenSigner:
    """Issues and verifies access tokens with a list of keys: the first one signs."""

    def __init__(self, keys: list[OctKey | OKPKey], algorithm: str) -> None:
        if not keys:
            raise ConfigurationError("no signing key configured")
        if algorithm not in ALGORITHMS:
            raise ConfigurationError(f"jwt algorithm must be one of {', '.join(ALGORITHMS)}")
        self.algorithm = algorithm
        self._signing = keys[0]
        self._keys = KeySet(cast(list[Any], keys))

    @classmethod
    def from_secrets(cls, secrets_: list[str]) -> TokenSigner:
        keys: list[OctKey | OKPKey] = []
        for secret in secrets_:
            if len(secret) < MIN_SECRET_LENGTH:
                raise ConfigurationError(
                    f"BOXOFFICE_SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters"
                )
            keys.append(OctKey.import_key(secret, {"kid": _kid(secret.encode()), "use": "sig"}))
        return cls(keys, "HS256")

    @classmethod
    def from_ed25519_files(cls, paths: list[Path]) -> TokenSigner:
        keys: list[OctKey | OKPKey] = []
        for path in paths:
            pem = path.read_bytes()
            keys.append(OKPKey.import_key(pem, {"kid": _kid(pem), "use": "sig"}))
        return cls(keys, "Ed25519")

    @property
    def kid(self) -> str:
        return str(self._signing.kid)

    def issue(
        self, *, user_id: uuid.UUID, session_id: uuid.UUID, now: datetime, ttl: timedelta
    ) -> str:
        claims = {
            "sub": str(user_id),
            "sid": str(session_id),
            "iat": int(now.timestamp()),
            "exp": int((now + ttl).timestamp()),
            "jti": secrets.token_hex(8),
            "typ": "access",
        }
        return jwt.encode(
            {"alg": self.algorithm, "kid": self.kid},
            claims,
            self._signing,
            algorithms=[self.algorithm],
        )

    def verify(self, token: str, now: datetime) -> AccessClaims:
        """The claims of a valid, unexpired access token; :class:`Unauthorized` otherwise."""
        try:
            decoded = jwt.decode(token, self._keys, algorithms=[self.algorithm])
            claims = decoded.claims
            if claims.get("typ") != "access":
                raise ValueError("not an access token")
            expires = datetime.fromtimestamp(int(claims["exp"]), tz=now.tzinfo)
            if expires <= now:
                raise Unauthorized("the access token has expired; refresh it or sign in again")
            return AccessClaims(uuid.UUID(claims["sub"]), uuid.UUID(claims["sid"]), expires)
        except Unauthorized:
            raise
        except (JoseError, ValueError, KeyError, TypeError) as error:
            raise Unauthorized("the access token is not valid") from error


def _kid(material: bytes) -> str:
    return hashlib.sha256(material).hexdigest()[:12]
