"""What the identity API takes in and hands out."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec
from email_validator import EmailNotValidError, validate_email

from boxoffice.core.errors import FieldError, ValidationFailed
from boxoffice.core.fields import CountryCode, Locale, SingleLine, TaxId, TimeZone, country
from boxoffice.core.identity.models import Organization

Email = Annotated[str, msgspec.Meta(min_length=3, max_length=320)]
Password = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
Name = Annotated[SingleLine, msgspec.Meta(max_length=200)]
Token = Annotated[str, msgspec.Meta(min_length=10, max_length=500)]
ConsentVersion = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$",
        description="the version of the consent wording shown, e.g. marketing-2026-11",
    ),
]
Slug = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?$")]


def normalize_email(raw: str, field: str = "email") -> str:
    """The address people sign in with: syntax-checked, lower-cased, no deliverability probe."""
    try:
        checked = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as error:
        raise ValidationFailed(
            "the e-mail address is not valid", errors=[FieldError(field, str(error))]
        ) from error
    return str(checked.normalized).lower()


class Strict(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class RegisterIn(Strict, frozen=True, kw_only=True, forbid_unknown_fields=True):
    email: Email
    password: Password
    name: Name = ""
    locale: Locale = "en"
    time_zone: TimeZone = "UTC"
    country: CountryCode | None = None
    marketing_consent: bool = False
    #: The version of the marketing consent wording the client showed (kept with the
    #: consent); unset: the platform's own.
    consent_version: ConsentVersion | None = None

    def __post_init__(self) -> None:
        if self.country is not None:
            msgspec.structs.force_setattr(self, "country", country(self.country))


class LoginIn(Strict, frozen=True, kw_only=True, forbid_unknown_fields=True):
    email: Email
    password: Password


class TokenIn(Strict, frozen=True, kw_only=True, forbid_unknown_fields=True):
    token: Token


class RefreshIn(Strict, frozen=True, kw_only=True, forbid_unknown_fields=True):
    refresh_token: Token


class EmailIn(Strict, frozen=True, kw_only=True, forbid_unknown_fields=True):
    email: Email


class ResetIn(Strict, frozen=True, kw_only=True, forbid_unknown_fields=True):
    token: Token
    password: Password


class ChangePasswordIn(Strict, frozen=True, kw_only=True, forbid_unknown_fields=True):
    current_password: Password
    new_password: Password


class TokenPair(msgspec.Struct, frozen=True):
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret


class Accepted(msgspec.Struct, frozen=True):
    detail: str


class ProfileOut(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    email: str
    email_verified: bool
    name: str
    locale: str
    time_zone: str
    country: str
    marketing_consent: bool
    marketing_consent_at: datetime | None
    platform_role: str
    status: str
    created_at: datetime


class ProfileUpdate(Strict, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    locale: Locale | msgspec.UnsetType = msgspec.UNSET
    time_zone: TimeZone | msgspec.UnsetType = msgspec.UNSET
    country: CountryCode | msgspec.UnsetType | None = msgspec.UNSET
    marketing_consent: bool | msgspec.UnsetType = msgspec.UNSET
    consent_version: ConsentVersion | None = None

    def __post_init__(self) -> None:
        if isinstance(self.country, str):
            msgspec.structs.force_setattr(self, "country", country(self.country))


class OrganizationIn(Strict, frozen=True, kw_only=True, forbid_unknown_fields=True):
    slug: Slug
    name: Annotated[SingleLine, msgspec.Meta(min_length=1, max_length=200)]
    contact_email: Email | None = None


class OrganizationOut(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    slug: str
    name: str
    contact_email: str
    created_at: datetime
    #: The caller's role in it (absent for API keys).
    role: str | None = None
    legal_address: str = ""
    country: str = ""
    tax_id: str = ""

    @classmethod
    def of(cls, organization: Organization, role: str | None = None) -> OrganizationOut:
        return cls(
            id=organization.id,
            slug=organization.slug,
            name=organization.name,
            contact_email=organization.contact_email,
            created_at=organization.created_at,
            role=role,
            legal_address=organization.legal_address,
            country=organization.country,
            tax_id=organization.tax_id,
        )


class InviteIn(Strict, frozen=True, kw_only=True, forbid_unknown_fields=True):
    email: Email
    role: str


class InvitationOut(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    email: str
    role: str
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None
    revoked_at: datetime | None


class MemberOut(msgspec.Struct, frozen=True, kw_only=True):
    user_id: uuid.UUID
    email: str
    name: str
    role: str
    joined_at: datetime


class RoleIn(Strict, frozen=True, kw_only=True, forbid_unknown_fields=True):
    role: str


class ApiKeyIn(Strict, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    scopes: Annotated[list[str], msgspec.Meta(min_length=1, max_length=10)]


class ApiKeyOut(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreatedOut(msgspec.Struct, frozen=True, kw_only=True):
    """The only time the whole key is shown: store it now."""

    key: str
    api_key: ApiKeyOut


class UserPage(msgspec.Struct, frozen=True):
    items: list[ProfileOut]
    next_cursor: str | None = None


class PlatformRoleIn(Strict, frozen=True, kw_only=True, forbid_unknown_fields=True):
    role: Annotated[str, msgspec.Meta(pattern="^(|admin)$")]


class SignupsPerDay(msgspec.Struct, frozen=True):
    day: str
    count: int


class StatsOut(msgspec.Struct, frozen=True, kw_only=True):
    users: int
    verified_ratio: float
    suspended: int
    organizations: int
    active_organizations: int
    signups_per_day: list[SignupsPerDay]


class IdentityProviderOut(msgspec.Struct, frozen=True):
    id: str
    display_name: str


class SignInStartOut(msgspec.Struct, frozen=True):
    """Send the browser to ``authorization_url``; the provider returns it to the configured
    redirect URI with ``code`` and ``state``, which your front end posts to the callback."""

    authorization_url: str
    state: str


class SignInCallbackIn(Strict, frozen=True, kw_only=True, forbid_unknown_fields=True):
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
    state: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class OrganizationUpdate(Strict, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    contact_email: Email | msgspec.UnsetType = msgspec.UNSET
    #: Billing details for its invoices (see ``Organization``).
    legal_address: Annotated[str, msgspec.Meta(max_length=500)] | msgspec.UnsetType = msgspec.UNSET
    country: CountryCode | msgspec.UnsetType = msgspec.UNSET
    tax_id: TaxId | msgspec.UnsetType = msgspec.UNSET
