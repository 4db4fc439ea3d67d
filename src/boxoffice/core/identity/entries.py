from __future__ import annotations

from typing import ClassVar

from boxoffice.core.journal.entries import JournalEntry, entry_type


@entry_type
class OrganizationCreated(JournalEntry, frozen=True, kw_only=True):
    aggregate_type: ClassVar[str] = "organization"
    organization_id: str
    slug: str
    name: str

    def aggregate_id(self) -> str:
        return self.organization_id


class _UserEntry(JournalEntry, frozen=True, kw_only=True):
    aggregate_type: ClassVar[str] = "user"
    user_id: str

    def aggregate_id(self) -> str:
        return self.user_id


@entry_type
class UserRegistered(_UserEntry, frozen=True, kw_only=True):
    via: str = "password"  # or the identity provider's id


@entry_type
class EmailVerified(_UserEntry, frozen=True, kw_only=True):
    pass


@entry_type
class PasswordChanged(_UserEntry, frozen=True, kw_only=True):
    by_reset: bool = False


@entry_type
class AccountLocked(_UserEntry, frozen=True, kw_only=True):
    until: str


@entry_type
class UserStatusChanged(_UserEntry, frozen=True, kw_only=True):
    status: str
    by: str


@entry_type
class PlatformRoleChanged(_UserEntry, frozen=True, kw_only=True):
    role: str
    by: str


@entry_type
class RefreshTokenReused(_UserEntry, frozen=True, kw_only=True):
    """A rotated refresh token came back: the whole session was revoked."""

    session_id: str


@entry_type
class ExternalIdentityLinked(_UserEntry, frozen=True, kw_only=True):
    provider: str


class _MemberEntry(JournalEntry, frozen=True, kw_only=True):
    aggregate_type: ClassVar[str] = "organization"
    organization_id: str

    def aggregate_id(self) -> str:
        return self.organization_id


@entry_type
class MemberInvited(_MemberEntry, frozen=True, kw_only=True):
    invitation_id: str
    role: str
    by: str


@entry_type
class MemberJoined(_MemberEntry, frozen=True, kw_only=True):
    user_id: str
    role: str


@entry_type
class MemberRoleChanged(_MemberEntry, frozen=True, kw_only=True):
    user_id: str
    role: str
    by: str


@entry_type
class MemberRemoved(_MemberEntry, frozen=True, kw_only=True):
    user_id: str
    by: str


@entry_type
class ApiKeyCreated(_MemberEntry, frozen=True, kw_only=True):
    api_key_id: str
    scopes: list[str]
    by: str


@entry_type
class ApiKeyRevoked(_MemberEntry, frozen=True, kw_only=True):
    api_key_id: str
    by: str
