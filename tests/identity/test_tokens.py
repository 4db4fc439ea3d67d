"""Access-token signing: key rotation by kid, Ed25519, and what is refused."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from joserfc.jwk import OKPKey

from boxoffice.core.errors import ConfigurationError, Unauthorized
from boxoffice.core.identity.keys import platform_keys, signer_from
from boxoffice.core.identity.tokens import TokenSigner

NOW = datetime(2030, 1, 1, tzinfo=UTC)
OLD = "the-old-signing-key-0123456789-abcdefgh"
NEW = "the-new-signing-key-0123456789-abcdefgh"


def issue(signer: TokenSigner) -> str:
    return signer.issue(
        user_id=uuid.uuid4(), session_id=uuid.uuid4(), now=NOW, ttl=timedelta(minutes=15)
    )


def test_rotation_old_tokens_verify_until_the_old_key_is_dropped() -> None:
    before = TokenSigner.from_secrets([OLD])
    old_token = issue(before)
    rotated = TokenSigner.from_secrets([NEW, OLD])
    assert rotated.kid != before.kid
    assert rotated.verify(old_token, NOW).expires_at == NOW + timedelta(minutes=15)
    assert rotated.verify(issue(rotated), NOW)
    with pytest.raises(Unauthorized):
        TokenSigner.from_secrets([NEW]).verify(old_token, NOW)


def test_expired_and_weak_keys() -> None:
    signer = TokenSigner.from_secrets([NEW])
    with pytest.raises(Unauthorized, match="expired"):
        signer.verify(issue(signer), NOW + timedelta(minutes=15))
    with pytest.raises(ConfigurationError, match="32 characters"):
        TokenSigner.from_secrets(["short"])
    with pytest.raises(ConfigurationError):
        TokenSigner([], "HS256")


def test_ed25519_keys_from_files(tmp_path: Path) -> None:
    first, second = tmp_path / "a.pem", tmp_path / "b.pem"
    first.write_bytes(OKPKey.generate_key("Ed25519").as_pem(private=True))
    second.write_bytes(OKPKey.generate_key("Ed25519").as_pem(private=True))
    signer = signer_from(algorithm="Ed25519", keys=[NEW], key_files=f"{first},{second}")
    assert signer.algorithm == "Ed25519"
    token = issue(signer)
    assert signer.verify(token, NOW)
    hs = TokenSigner.from_secrets([NEW])
    with pytest.raises(Unauthorized):
        hs.verify(token, NOW)  # an algorithm the verifier does not use is refused


def test_a_generated_key_is_kept_private_and_reused(tmp_path: Path) -> None:
    one = platform_keys(secret_key="", previous="", data_dir=tmp_path)
    two = platform_keys(secret_key="", previous=f" {NEW} ,", data_dir=tmp_path)
    assert two == [*one, NEW]
    assert signer_from(algorithm="HS256", keys=one, key_files="").kid == (
        signer_from(algorithm="HS256", keys=two, key_files="").kid
    )
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600
