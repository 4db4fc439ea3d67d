"""Where the platform's keys come from: the secret key (set, or generated once for a single
machine) and the previous ones still accepted; access tokens are signed with them (HS256)
or with Ed25519 key files, and buyers' link secrets are derived from them."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from boxoffice.core.identity.tokens import TokenSigner
from boxoffice.logs import get_logger

log = get_logger(__name__)
GENERATED_KEY_FILE = "secret.key"


def platform_keys(*, secret_key: str, previous: str, data_dir: Path) -> list[str]:
    """The current secret key first, then the previous ones (comma-separated)."""
    current = secret_key or _generated_secret(data_dir)
    return [current, *(k.strip() for k in previous.split(",") if k.strip())]


def signer_from(*, algorithm: str, keys: list[str], key_files: str) -> TokenSigner:
    if algorithm == "Ed25519":
        return TokenSigner.from_ed25519_files(
            [Path(p.strip()) for p in key_files.split(",") if p.strip()]
        )
    return TokenSigner.from_secrets(keys)


def _generated_secret(data_dir: Path) -> str:
    """A key made once and kept (mode 0600) in the data directory, for a single machine."""
    path = data_dir / GENERATED_KEY_FILE
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key)
    log.warning(
        "identity.generated_signing_key",
        path=str(path),
        hint="set BOXOFFICE_SECRET_KEY when several machines serve the API",
    )
    return key
