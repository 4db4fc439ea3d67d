"""A person's data: a copy (export), and erasure.

Erasure removes what identifies the person and keeps what the law requires of the sales:
orders, tickets and invoices stay, with amounts, dates and taxes, but the person in them is
replaced by a pseudonymous reference (derived from the platform key and the account id, so
support can match a later request without keeping the name). The account can no longer sign
in; its sessions end; its memberships go (refused while it is an organization's only owner:
someone must be left to answer for the organization's sales). Messages sent keep their
delivery log, not their address or body. One journal entry says it happened.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, cast

import msgspec
from sqlalchemy import CursorResult, Result, and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.booking.models import BuyerTally, Order, OrderItem, WaitlistEntry
from boxoffice.core.booking.orders import order_out
from boxoffice.core.booking.schemas import OrderOut
from boxoffice.core.clock import Clock
from boxoffice.core.errors import Conflict, FieldError, ValidationFailed
from boxoffice.core.identity.accounts import revoke_all_sessions
from boxoffice.core.identity.models import AuthSession, ExternalIdentity, Membership, User
from boxoffice.core.identity.passwords import verify_password
from boxoffice.core.invoices.models import Invoice
from boxoffice.core.invoices.schemas import InvoiceOut
from boxoffice.core.journal.service import append
from boxoffice.core.links import LinkKind, LinkSecrets
from boxoffice.core.notify.models import ConsentRecord, NotificationPreference, OutboundMessage
from boxoffice.core.privacy.entries import OrderPseudonymised, PersonErased
from boxoffice.core.privacy.models import DataExport

ERASED_NAME = "(erased)"
ERASED_STATUS = "erased"


def pseudonym_of(links: LinkSecrets, user: User) -> str:
    """The reference that replaces ``user`` once erased: the same for the same account under
    the same platform key (support can match a later request), and says nothing of them."""
    return "erased-" + links.for_address(LinkKind.PSEUDONYM, str(user.id))[:20].lower()


#: What an erased attendee's ticket keeps of them (``update(OrderItem).values(...)``).
ERASED_ATTENDEE: dict[str, Any] = {
    "attendee_name": ERASED_NAME,
    "attendee_email": "",
    "answers": {},
}


def pseudonymise_order(order: Order, address: str) -> None:
    """The buyer leaves ``order``: ``address`` (an :func:`erased_address`) stands for them.
    A business's tax id stays: it identifies the business, and tax law keeps it; an address
    may be a person's home."""
    order.buyer_name, order.buyer_email = ERASED_NAME, address
    order.buyer_phone = order.buyer_address = ""


async def tell_pseudonymised(
    session: AsyncSession, clock: Clock, orders: Sequence[Order], reason: str
) -> None:
    """Journal that ``orders`` were pseudonymised (see :class:`OrderPseudonymised`)."""
    for order in orders:
        await append(
            session,
            OrderPseudonymised(
                order_id=str(order.id),
                number=order.number,
                event_id=str(order.event_id),
                organization_id=str(order.organization_id),
                reason=reason,
            ),
            clock,
        )


def pseudonymise_invoice(invoice: Invoice, name: str) -> None:
    """The buyer leaves an issued invoice's frozen data; ``name`` stands for them."""
    buyer = {**invoice.data["buyer"], "name": name, "email": "", "address": ""}
    invoice.data = {**invoice.data, "buyer": buyer}


def erased_address(reference: str) -> str:
    """What stands for the person's e-mail address on the records kept (never deliverable:
    ``.invalid`` is reserved, RFC 2606)."""
    return f"{reference}@erased.invalid"


class SessionOut(msgspec.Struct, frozen=True, kw_only=True):
    created_at: datetime
    revoked_at: datetime | None
    user_agent: str


class MessageOut(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    template: str
    subject: str
    status: str
    created_at: datetime


class ConsentOut(msgspec.Struct, frozen=True, kw_only=True):
    purpose: str
    granted: bool
    text_version: str
    source: str
    recorded_at: datetime


class PersonalData(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the platform holds about a person, as JSON (``GET /me/data``)."""

    exported_at: datetime
    account: dict[str, Any]
    sessions: list[SessionOut]
    organizations: list[dict[str, str]]
    orders: list[OrderOut]
    invoices: list[InvoiceOut]
    waiting_lists: list[dict[str, Any]]
    marketing: dict[str, Any] | None
    #: Every consent given or withdrawn, oldest first.
    consents: list[ConsentOut]
    messages: list[MessageOut]


def _proven_address(user: User) -> str | None:
    """The account's address if its owner proved it is theirs; ``None`` otherwise (then
    nothing is matched by address: not orders, waiting lists, messages or preferences)."""
    return user.email if user.email_verified_at is not None else None


def _theirs(user: User) -> Any:
    """The orders of ``user``: bought signed in, or with their address once they proved it
    is theirs (an unverified account must not read, or erase, what someone else bought with
    that address)."""
    address = _proven_address(user)
    if address is None:
        return Order.user_id == user.id
    return or_(Order.user_id == user.id, Order.buyer_email == address)


async def export_data(session: AsyncSession, clock: Clock, user: User) -> PersonalData:
    orders = list(
        await session.scalars(select(Order).where(_theirs(user)).order_by(Order.created_at))
    )
    order_ids = [order.id for order in orders]
    items: dict[Any, list[OrderItem]] = {}
    for item in await session.scalars(
        select(OrderItem).where(OrderItem.order_id.in_(order_ids)).order_by(OrderItem.position)
    ):
        items.setdefault(item.order_id, []).append(item)
    invoices = await session.scalars(
        select(Invoice.data).where(Invoice.order_id.in_(order_ids)).order_by(Invoice.issued_at)
    )
    memberships = await session.execute(
        select(Membership.organization_id, Membership.role).where(Membership.user_id == user.id)
    )
    address = _proven_address(user) or ""  # "" matches no address: none is stored empty
    preference = await session.get(NotificationPreference, address) if address else None
    return PersonalData(
        exported_at=clock.now(),
        account={
            "id": str(user.id),
            "email": user.email,
            "name": user.name,
            "locale": user.locale,
            "time_zone": user.time_zone,
            "country": user.country,
            "marketing_consent": user.marketing_consent,
            "marketing_consent_at": user.marketing_consent_at,
            "created_at": user.created_at,
            "last_login_at": user.last_login_at,
        },
        sessions=[
            SessionOut(created_at=s.created_at, revoked_at=s.revoked_at, user_agent=s.user_agent)
            for s in await session.scalars(
                select(AuthSession).where(AuthSession.user_id == user.id)
            )
        ],
        organizations=[{"id": str(org), "role": role} for org, role in memberships],
        orders=[order_out(order, items.get(order.id, [])) for order in orders],
        invoices=[msgspec.convert(data, InvoiceOut) for data in invoices],
        waiting_lists=[
            {
                "event_id": str(w.event_id),
                "name": w.name,
                "quantity": w.quantity,
                "status": w.status,
            }
            for w in await session.scalars(
                select(WaitlistEntry).where(WaitlistEntry.email == address)
            )
        ],
        marketing=None
        if preference is None
        else {
            "allowed": preference.marketing,
            "source": preference.source,
            "changed_at": preference.changed_at,
        },
        consents=[
            ConsentOut(
                purpose=c.purpose,
                granted=c.granted,
                text_version=c.text_version,
                source=c.source,
                recorded_at=c.recorded_at,
            )
            for c in await session.scalars(
                select(ConsentRecord)
                .where(ConsentRecord.address == address)
                .order_by(ConsentRecord.recorded_at, ConsentRecord.id)
            )
        ],
        messages=[
            MessageOut(
                kind=m.kind,
                template=m.template,
                subject=m.subject,
                status=m.status,
                created_at=m.created_at,
            )
            for m in await session.scalars(
                select(OutboundMessage)
                .where(OutboundMessage.recipient == address)
                .order_by(OutboundMessage.created_at)
            )
        ],
    )


class ErasureIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    #: The account's password, to confirm (ignored for accounts that sign in only through
    #: an identity provider).
    password: Annotated[str, msgspec.Meta(max_length=1000)] = ""


class ErasureOut(msgspec.Struct, frozen=True, kw_only=True):
    """What an erasure changed. ``reference`` stands for the person on the records kept."""

    reference: str
    orders: int
    tickets: int
    invoices: int
    messages: int


async def _sole_owner_of(session: AsyncSession, user: User) -> Sequence[Any]:
    owned = select(Membership.organization_id).where(
        Membership.user_id == user.id, Membership.role == "owner"
    )
    owners = (
        select(Membership.organization_id)
        .where(Membership.organization_id.in_(owned), Membership.role == "owner")
        .group_by(Membership.organization_id)
        .having(func.count() == 1)
    )
    return list(await session.scalars(owners))


async def erase_person(
    session: AsyncSession, clock: Clock, user: User, password: str, reference: str
) -> ErasureOut:
    """Erase ``user`` (see the module's docstring); ``password`` confirms it is them."""
    if user.password_hash is not None and not verify_password(user.password_hash, password):
        raise ValidationFailed(
            "the password is wrong", errors=[FieldError("password", "does not match")]
        )
    if await _sole_owner_of(session, user):
        raise Conflict(
            "you are the only owner of an organization: make someone else an owner, or close "
            "it, before your account is erased"
        )
    address, email = erased_address(reference), _proven_address(user) or ""
    orders = list(await session.scalars(select(Order).where(_theirs(user))))
    order_ids = [order.id for order in orders]
    for order in orders:
        pseudonymise_order(order, address)
        order.user_id = user.id
    await tell_pseudonymised(session, clock, orders, "erasure")
    # Their tickets: those of their orders named after them (no address of their own, or
    # theirs), and, with a proven address, the tickets others bought in their name.
    named_after_them = OrderItem.attendee_email.in_({"", email})
    theirs = and_(OrderItem.order_id.in_(order_ids), named_after_them)
    if email:
        theirs = or_(theirs, OrderItem.attendee_email == email)
    tickets = _count(await session.execute(update(OrderItem).where(theirs).values(ERASED_ATTENDEE)))
    invoices = 0
    for invoice in await session.scalars(select(Invoice).where(Invoice.order_id.in_(order_ids))):
        pseudonymise_invoice(invoice, reference)
        invoices += 1
    messages = 0
    if email:  # what is matched by address alone, only once the address is proven theirs
        await session.execute(
            update(BuyerTally).where(BuyerTally.buyer_email == email).values(buyer_email=address)
        )
        await session.execute(
            update(WaitlistEntry)
            .where(WaitlistEntry.email == email)
            .values(name=ERASED_NAME, email=address)
        )
        messages = _count(
            await session.execute(
                update(OutboundMessage)
                .where(OutboundMessage.recipient == email)
                .values(recipient=address, context=None, subject="")
            )
        )
        preference = await session.get(NotificationPreference, email)
        if preference is not None:
            await session.delete(preference)
        # The proof of what was consented to stays, no longer naming the person.
        await session.execute(
            update(ConsentRecord).where(ConsentRecord.address == email).values(address=address)
        )
    for identity in await session.scalars(
        select(ExternalIdentity).where(ExternalIdentity.user_id == user.id)
    ):
        await session.delete(identity)
    for membership in await session.scalars(
        select(Membership).where(Membership.user_id == user.id)
    ):
        await session.delete(membership)
    await session.execute(delete(DataExport).where(DataExport.user_id == user.id))
    await revoke_all_sessions(session, clock, user.id, "erased")
    user.email, user.name, user.password_hash = address, "", None
    user.country, user.marketing_consent, user.marketing_consent_at = "", False, None
    user.status, user.updated_at = ERASED_STATUS, clock.now()
    await append(session, PersonErased(user_id=str(user.id), reference=reference), clock)
    return ErasureOut(
        reference=reference,
        orders=len(orders),
        tickets=tickets,
        invoices=invoices,
        messages=messages,
    )


def _count(result: Result[Any]) -> int:
    """The rows an UPDATE changed."""
    return int(cast(CursorResult[Any], result).rowcount)
