"""Where the access-token signing keys come from."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from boxoffice.core.identity.tokens import TokenSigner
from boxoffice.logs import get_logger

log = get_logger(__name__)
GENERATED_KEY_FILE = "secret.key"


def signer_from(
    *, algorithm: str, secret_key: str, previous: str, key_files: str, data_dir: Path
) -> TokenSigner:
    if algorithm == "Ed25519":
        return TokenSigner.from_ed25519_files(
            [Path(p.strip()) for p in key_files.split(",") if p.strip()]
        )
    current = secret_key or _generated_secret(data_dir)
    older = [k.strip() for k in previous.split(",") if k.strip()]
    return TokenSigner.from_secrets([current, *older])


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
