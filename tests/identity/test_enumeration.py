"""Sign-in and registration do the same work whatever the address: no account enumeration
by timing. Compared by the argon2 work done (hash and verification calls), not wall time,
so the test is exact on a noisy machine."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from argon2 import PasswordHasher

from boxoffice.core.identity import passwords
from boxoffice.platform import Platform
from tests import factories
from tests.identity.helpers import PASSWORD, sign_up


class CountingHasher(PasswordHasher):
    """argon2 as before, counting each costly call."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self.calls["hash"] += 1
        return super().hash(password, salt=salt)

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.calls["verify"] += 1
        return super().verify(hash, password)


@pytest.fixture
def argon2(monkeypatch: pytest.MonkeyPatch) -> CountingHasher:
    hasher = CountingHasher()
    monkeypatch.setattr(passwords, "_hasher", hasher)
    return hasher


@pytest.fixture
def platform(make_platform: factories.MakePlatform) -> Platform:
    return make_platform(config=factories.PLUGINS_TOML, entry_points=True)


async def work_of(argon2: CountingHasher, request: Any) -> tuple[int, dict[str, int]]:
    argon2.calls.clear()
    response = await request
    return response.status_code, dict(argon2.calls)


async def test_sign_in_costs_the_same_for_any_address(
    platform: Platform, make_client: Any, argon2: CountingHasher
) -> None:
    async with make_client(platform) as client:
        await sign_up(client, platform, "known@example.org")

        def login(email: str, password: str) -> Any:
            return client.post("/api/v1/auth/login", json={"email": email, "password": password})

        unknown = await work_of(argon2, login("nobody@example.org", "wrong password 123"))
        wrong = await work_of(argon2, login("known@example.org", "wrong password 123"))
        malformed = await work_of(argon2, login("not an address", "wrong password 123"))
        right = await work_of(argon2, login("known@example.org", PASSWORD))
        assert unknown == wrong == malformed == (401, {"verify": 1})
        assert right == (200, {"verify": 1})
        for _ in range(4):  # five failures from this client in all: it must wait now
            await login("known@example.org", "wrong password 123")
            await login("nobody@example.org", "wrong password 123")
        known_waits = await work_of(argon2, login("known@example.org", "wrong password 123"))
        unknown_waits = await work_of(argon2, login("nobody@example.org", "wrong password 123"))
        assert known_waits == unknown_waits == (429, {}), "waiting costs the same for both"


async def test_registration_costs_the_same_for_a_known_address(
    platform: Platform, make_client: Any, argon2: CountingHasher
) -> None:
    async with make_client(platform) as client:

        def register(email: str) -> Any:
            body = {"email": email, "password": "a perfectly long secret"}
            return client.post("/api/v1/auth/register", json=body)

        new = await work_of(argon2, register("first@example.org"))
        again = await work_of(argon2, register("first@example.org"))
        assert new == again == (202, {"hash": 1})
