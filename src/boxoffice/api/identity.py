"""Accounts and sessions: register, verify, sign in, refresh, sign out, passwords, profile."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, patch, post
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.api.auth import client_ip
from boxoffice.api.caching import PRIVATE
from boxoffice.core.clock import Clock
from boxoffice.core.errors import Forbidden, NotFound, Unauthorized
from boxoffice.core.identity import accounts, external
from boxoffice.core.identity.accounts import AuthPolicy
from boxoffice.core.identity.models import User
from boxoffice.core.identity.principal import Principal
from boxoffice.core.identity.provider import IdentityProvider
from boxoffice.core.identity.schemas import (
    Accepted,
    ChangePasswordIn,
    EmailIn,
    IdentityProviderOut,
    LoginIn,
    OrganizationOut,
    ProfileOut,
    ProfileUpdate,
    RefreshIn,
    RegisterIn,
    ResetIn,
    SignInCallbackIn,
    SignInStartOut,
    TokenIn,
    TokenPair,
)
from boxoffice.core.identity.service import get_user, organizations_of
from boxoffice.core.notify.preferences import MARKETING_TEXT_VERSION, set_marketing
from boxoffice.core.privacy.exports import (
    DataExportOut,
    download,
    export_of,
    export_out,
    request_export,
)
from boxoffice.core.privacy.service import (
    ErasureIn,
    ErasureOut,
    PersonalData,
    erase_person,
    export_data,
    pseudonym_of,
)
from boxoffice.core.ratelimit import Limit, RateLimited, hit, retry_after
from boxoffice.platform import Platform

#: Abuse limits (per fixed window, shared by every API process).
REGISTER_PER_IP = Limit(10, timedelta(hours=1))
REGISTER_PER_ACCOUNT = Limit(3, timedelta(hours=1))
LOGIN_PER_IP = Limit(30, timedelta(minutes=5))
RESET_PER_IP = Limit(10, timedelta(hours=1))
RESET_PER_ACCOUNT = Limit(3, timedelta(hours=1))

CHECK_INBOX = "if the address can receive mail, a message is on its way: check the inbox"


class AuthController(Controller):
    cache_control = PRIVATE
    path = "/auth"
    tags = ["auth"]

    @post("/register", status_code=202, summary="Create an account; a verification link follows")
    async def register(
        self,
        request: Request[Any, Any, Any],
        platform: NamedDependency[Platform],
        data: JSONBody[RegisterIn],
    ) -> Accepted:
        await hit(
            platform.db,
            platform.clock,
            f"register:ip:{client_ip(request)}",
            REGISTER_PER_IP,
            "sign-ups from this address",
        )
        await hit(
            platform.db,
            platform.clock,
            f"register:account:{data.email.strip().lower()}",
            REGISTER_PER_ACCOUNT,
            "sign-ups for this e-mail address",
        )
        async with platform.db.transaction() as session:
            await accounts.register(session, platform.clock, platform.auth_policy, data)
        return Accepted(CHECK_INBOX)

    @post("/verify-email", status_code=200, summary="Confirm an address with the e-mailed token")
    async def verify_email(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        data: JSONBody[TokenIn],
    ) -> ProfileOut:
        return accounts.profile_of(await accounts.verify_email(session, clock, data.token))

    @post("/verify-email/resend", status_code=202, summary="Send a new verification link")
    async def resend(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        auth_policy: NamedDependency[AuthPolicy],
        user: NamedDependency[User],
    ) -> Accepted:
        fresh = await get_user(session, user.id)
        await accounts.resend_verification(session, clock, auth_policy, fresh)
        return Accepted(CHECK_INBOX)

    @post("/login", status_code=200, summary="Sign in: an access token and a refresh token")
    async def login(
        self,
        request: Request[Any, Any, Any],
        platform: NamedDependency[Platform],
        data: JSONBody[LoginIn],
    ) -> TokenPair:
        ip = client_ip(request)
        await hit(platform.db, platform.clock, f"login:ip:{ip}", LOGIN_PER_IP, "sign-in attempts")
        # Failed sign-ins are counted per (address, client): past the policy's maximum that
        # client waits, whether or not the address has an account, and the account's owner
        # signing in from elsewhere is not locked out by someone else's guesses.
        policy = platform.auth_policy
        failures = Limit(policy.max_failed_logins, policy.lockout)
        failures_key = accounts.failed_sign_ins_key(data.email, ip)
        wait = await retry_after(platform.db, platform.clock, failures_key, failures)
        if wait is not None:
            raise RateLimited(
                f"too many failed sign-ins for this address from your network; try again in "
                f"{wait} seconds, or reset the password",
                wait,
            )
        async with platform.db.transaction() as session:
            outcome = await accounts.login(
                session,
                platform.clock,
                platform.auth_policy,
                platform.signer,
                data.email,
                data.password,
                request.headers.get("user-agent", ""),
            )
        if isinstance(outcome.error, Unauthorized):
            await hit(platform.db, platform.clock, failures_key, failures, "failed sign-ins")
        return outcome.unwrap()

    @post("/refresh", status_code=200, summary="Exchange a refresh token for a new pair")
    async def refresh(
        self, platform: NamedDependency[Platform], data: JSONBody[RefreshIn]
    ) -> TokenPair:
        async with platform.db.transaction() as session:
            outcome = await accounts.refresh(
                session, platform.clock, platform.auth_policy, platform.signer, data.refresh_token
            )
        return outcome.unwrap()

    @post("/logout", status_code=204, summary="End this session (its tokens stop working)")
    async def logout(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        principal: NamedDependency[Principal],
    ) -> None:
        principal.require_user()
        assert principal.session_id is not None
        await accounts.revoke_session(session, clock, principal.session_id, "logout")

    @post("/password/change", status_code=204, summary="Change the password; other sessions end")
    async def change_password(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        principal: NamedDependency[Principal],
        data: JSONBody[ChangePasswordIn],
    ) -> None:
        fresh = await get_user(session, principal.require_user().id, for_update=True)
        await accounts.change_password(
            session, clock, fresh, data.current_password, data.new_password, principal.session_id
        )

    @post(
        "/password/forgot",
        status_code=202,
        summary="E-mail a reset link (never says if the address exists)",
    )
    async def forgot(
        self,
        request: Request[Any, Any, Any],
        platform: NamedDependency[Platform],
        data: JSONBody[EmailIn],
    ) -> Accepted:
        await hit(
            platform.db,
            platform.clock,
            f"reset:ip:{client_ip(request)}",
            RESET_PER_IP,
            "reset requests from this address",
        )
        await hit(
            platform.db,
            platform.clock,
            f"reset:account:{data.email.strip().lower()}",
            RESET_PER_ACCOUNT,
            "reset requests for this account",
        )
        async with platform.db.transaction() as session:
            await accounts.request_password_reset(
                session, platform.clock, platform.auth_policy, data.email
            )
        return Accepted(CHECK_INBOX)

    @post("/password/reset", status_code=204, summary="Set a new password with the e-mailed token")
    async def reset(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        data: JSONBody[ResetIn],
    ) -> None:
        await accounts.reset_password(session, clock, data.token, data.password)


#: A person's copy of their data downloads as a file (``GET /me/data`` and the job's link).
MY_DATA_FILE = ResponseHeader(
    name="content-disposition",
    value='attachment; filename="my-data.json"',
    description="The copy downloads as a file",
)


class MeController(Controller):
    cache_control = PRIVATE
    path = "/me"
    tags = ["account"]

    @get("/", summary="My profile")
    async def me(self, user: NamedDependency[User]) -> ProfileOut:
        return accounts.profile_of(user)

    @patch("/", summary="Update my profile")
    async def update(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        user: NamedDependency[User],
        data: JSONBody[ProfileUpdate],
    ) -> ProfileOut:
        fresh = await get_user(session, user.id, for_update=True)
        accounts.update_profile(fresh, data, clock.now())
        if not isinstance(data.marketing_consent, msgspec.UnsetType):
            # The latest word about marketing wins, from the profile or an unsubscribe link.
            await set_marketing(
                session,
                clock,
                fresh.email,
                allowed=data.marketing_consent,
                source="account",
                text_version=data.consent_version or MARKETING_TEXT_VERSION,
            )
        return accounts.profile_of(fresh)

    @get(
        "/data",
        summary="A copy of everything the platform holds about me (JSON)",
        response_headers=[MY_DATA_FILE],
    )
    async def my_data(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        user: NamedDependency[User],
    ) -> Response[PersonalData]:
        return Response(
            await export_data(session, clock, user),
            headers={MY_DATA_FILE.name: str(MY_DATA_FILE.value)},
        )

    @post(
        "/data-exports",
        status_code=202,
        summary="Ask for a copy of my data as a file, built in the background (large histories)",
        description="Poll ``GET /me/data-exports/{id}``: once ``ready``, ``download`` is the "
        "file's link (7 days; no sign-in needed, so keep it private). At most 3 pending or "
        "ready at once (429).",
    )
    async def request_data_export(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        platform: NamedDependency[Platform],
        user: NamedDependency[User],
    ) -> DataExportOut:
        export = await request_export(session, clock, user, platform.links)
        return export_out(export, platform.links)

    @get("/data-exports/{export_id:uuid}", summary="A copy I asked for: pending, ready, expired")
    async def data_export(
        self,
        session: NamedDependency[AsyncSession],
        platform: NamedDependency[Platform],
        user: NamedDependency[User],
        export_id: FromPath[uuid.UUID],
    ) -> DataExportOut:
        return export_out(await export_of(session, user, export_id), platform.links)

    @get(
        "/data-exports/{export_id:uuid}/download",
        summary="The file of a ready copy, by its secret link (no sign-in)",
        media_type="application/json",
        response_headers=[MY_DATA_FILE],
    )
    async def download_data_export(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        export_id: FromPath[uuid.UUID],
        secret: Annotated[str | None, QueryParameter(max_length=100)] = None,
    ) -> Response[bytes]:
        content = await download(session, clock, export_id, secret)
        return Response(
            content.encode(),
            media_type="application/json",
            headers={MY_DATA_FILE.name: str(MY_DATA_FILE.value)},
        )

    @post(
        "/erase",
        status_code=200,
        summary="Erase my account and the personal data in my orders (sales records are kept, "
        "pseudonymised)",
    )
    async def erase(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        platform: NamedDependency[Platform],
        user: NamedDependency[User],
        data: JSONBody[ErasureIn],
    ) -> ErasureOut:
        fresh = await get_user(session, user.id, for_update=True)
        reference = pseudonym_of(platform.links, fresh)
        return await erase_person(session, clock, fresh, data.password, reference)

    @get("/organizations", summary="The organizations I belong to, with my role")
    async def organizations(
        self, session: NamedDependency[AsyncSession], user: NamedDependency[User]
    ) -> list[OrganizationOut]:
        rows = await organizations_of(session, user)
        return [OrganizationOut.of(o, role) for o, role in rows]


class UsersController(Controller):
    cache_control = PRIVATE
    path = "/users"
    tags = ["account"]

    @get("/{user_id:uuid}", summary="A profile: your own, or anyone's for a platform admin")
    async def profile(
        self,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[User],
        user_id: FromPath[uuid.UUID],
    ) -> ProfileOut:
        if user.id != user_id and user.platform_role != "admin":
            raise NotFound(f"no user {user_id}")  # not 403: ids are not for probing
        return accounts.profile_of(await get_user(session, user_id))


class SignInWithController(Controller):
    """Sign-in through identity providers (authorization code + PKCE + state + nonce)."""

    cache_control = PRIVATE
    path = "/auth/oauth"
    tags = ["auth"]

    @get("/", summary="The identity providers people can sign in with")
    async def providers(self, platform: NamedDependency[Platform]) -> list[IdentityProviderOut]:
        return [
            IdentityProviderOut(id=p.id, display_name=p.display_name)
            for p in platform.plugins.providers.identity.values()
        ]

    @post("/{provider_id:str}/start", status_code=200, summary="Begin: where to send the browser")
    async def start(
        self, platform: NamedDependency[Platform], provider_id: FromPath[str]
    ) -> SignInStartOut:
        provider = _identity_provider(platform, provider_id)
        async with platform.db.transaction() as session:
            url, state = await external.start_sign_in(
                session, platform.clock, provider, provider.default_redirect_uri
            )
        return SignInStartOut(authorization_url=url, state=state)

    @post(
        "/{provider_id:str}/callback",
        status_code=200,
        summary="Finish: redeem the code and sign in (linking or creating the account)",
    )
    async def callback(
        self,
        request: Request[Any, Any, Any],
        platform: NamedDependency[Platform],
        provider_id: FromPath[str],
        data: JSONBody[SignInCallbackIn],
    ) -> TokenPair:
        provider = _identity_provider(platform, provider_id)
        async with platform.db.transaction() as session:
            attempt = await external.claim_attempt(session, platform.clock, provider_id, data.state)
        profile = await provider.exchange(
            code=data.code,
            code_verifier=attempt.code_verifier,
            redirect_uri=attempt.redirect_uri,
            nonce=attempt.nonce,
        )
        async with platform.db.transaction() as session:
            user = await external.link_or_create(session, platform.clock, provider_id, profile)
            if user.status != "active":
                raise Forbidden("this account is suspended; contact support")
            user.last_login_at = platform.clock.now()
            return await accounts.start_session(
                session,
                platform.clock,
                platform.auth_policy,
                platform.signer,
                user,
                request.headers.get("user-agent", ""),
            )


def _identity_provider(platform: Platform, provider_id: str) -> IdentityProvider:
    provider = platform.plugins.providers.identity.get(provider_id)
    if provider is None:
        raise NotFound(f"no identity provider {provider_id!r} is configured")
    return provider
