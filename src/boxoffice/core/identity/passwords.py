"""Password hashing (argon2id) and the password policy.

The policy follows NIST SP 800-63B: a minimum length, a maximum (so hashing cannot be made
expensive), no composition rules, and a refusal of common and account-derived passwords.
Each rule that fails is reported with its own message.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from boxoffice.core.errors import FieldError

MIN_LENGTH = 10
MAX_LENGTH = 128

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """Verified against when the account does not exist, so both paths cost the same. Made
    at first use (one argon2 hash, ~0.1 s), not at import: every process, the CLI's too,
    paid for it at start-up. :func:`warm_up` makes it before the first request."""
    return _hasher.hash("boxoffice-timing-equalizer")


def warm_up() -> None:
    _dummy_hash()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Constant-cost check: an unknown account still pays for one argon2 verification."""
    try:
        return _hasher.verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    text = resources.files("boxoffice.core.identity").joinpath("common_passwords.txt").read_text()
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip())


def password_problems(password: str, *, email: str = "", name: str = "") -> list[FieldError]:
    """Every policy rule ``password`` breaks, one message each; empty when it is fine."""
    problems: list[FieldError] = []

    def fail(message: str) -> None:
        problems.append(FieldError("password", message))

    if len(password) < MIN_LENGTH:
        fail(f"use at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        fail(f"use at most {MAX_LENGTH} characters")
    lowered = password.lower()
    if lowered in common_passwords():
        fail("this password is on a list of common passwords; choose another")
    if len(set(password)) < 4:
        fail("use more than three different characters")
    local_part = email.split("@", 1)[0].lower()
    if len(local_part) >= 4 and local_part in lowered:
        fail("do not use your e-mail address in your password")
    if name and len(name) >= 4 and name.lower().replace(" ", "") in lowered.replace(" ", ""):
        fail("do not use your name in your password")
    return problems
