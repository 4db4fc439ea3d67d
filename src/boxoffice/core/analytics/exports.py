"""Exports of an event's orders and attendees as CSV or XLSX, streamed: rows are read in
pages of :data:`PAGE` by key and written out as they come, so a 100,000-order export takes
the memory of one page (``bench/exports.py`` measures it).

- **CSV** goes out page by page as it is written (UTF-8 with a byte-order mark, so that
  spreadsheet programs read accents right).
- **XLSX** is written by openpyxl's write-only workbook, which keeps each sheet's rows in a
  temporary file, not in memory; the finished file is then sent in chunks and deleted.

Amounts are decimal numbers in major units with the currency in its own column; times are in
the event's zone. A cell that a spreadsheet would run as a formula (starting with ``=``,
``+``, ``-``, ``@``, tab or carriage return) is written with a leading apostrophe (OWASP's
advice on CSV injection): a buyer's name is data, never a formula.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import anyio
from sqlalchemy import func, select

from boxoffice.core.booking.models import Order, OrderItem
from boxoffice.core.catalog.models import Event, TicketType
from boxoffice.core.checkin.models import Checkin, CheckinList
from boxoffice.core.money import Money
from boxoffice.core.storage import Database

PAGE = 1000
CHUNK = 64 * 1024
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Cell = str | int | Decimal | datetime | None


class Format(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"

    @property
    def media_type(self) -> str:
        if self == Format.CSV:
            return "text/csv; charset=utf-8"
        return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class Kind(StrEnum):
    ORDERS = "orders"
    ATTENDEES = "attendees"


ORDER_COLUMNS = [
    "number",
    "status",
    "placed_at",
    "confirmed_at",
    "buyer_name",
    "buyer_email",
    "buyer_country",
    "tickets",
    "currency",
    "subtotal",
    "discount",
    "fees",
    "tax",
    "total",
    "refunded",
]
ATTENDEE_COLUMNS = [
    "order_number",
    "ticket_id",
    "ticket_type",
    "attendee_name",
    "attendee_email",
    "status",
    "currency",
    "price",
    "last_scanned_at",
    "answers",
]


def safe(value: Cell) -> Cell:
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _amount(minor: int, currency: str) -> Decimal:
    return Money(minor, currency).to_decimal()


def _local(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    return None if moment is None else moment.astimezone(zone)


_ORDER_FIELDS = (
    Order.id,
    Order.number,
    Order.status,
    Order.created_at,
    Order.confirmed_at,
    Order.buyer_name,
    Order.buyer_email,
    Order.buyer_country,
    Order.tickets,
    Order.currency,
    Order.subtotal_minor,
    Order.discount_minor,
    Order.fees_minor,
    Order.tax_minor,
    Order.total_minor,
    Order.refunded_minor,
)


async def _order_pages(db: Database, event: Event) -> AsyncIterator[list[list[Cell]]]:
    """Only the exported columns (not whole orders: their breakdowns are large)."""
    zone, after = ZoneInfo(event.timezone), None
    while True:
        query = select(*_ORDER_FIELDS).where(Order.event_id == event.id).order_by(Order.id)
        if after is not None:
            query = query.where(Order.id > after)
        async with db.read() as session:
            orders = (await session.execute(query.limit(PAGE))).all()
        if not orders:
            return
        after = orders[-1].id
        yield [
            [
                o.number,
                o.status,
                _local(o.created_at, zone),
                _local(o.confirmed_at, zone),
                o.buyer_name,
                o.buyer_email,
                o.buyer_country,
                o.tickets,
                o.currency,
                _amount(o.subtotal_minor, o.currency),
                _amount(o.discount_minor, o.currency),
                _amount(o.fees_minor, o.currency),
                _amount(o.tax_minor, o.currency),
                _amount(o.total_minor, o.currency),
                _amount(o.refunded_minor, o.currency),
            ]
            for o in orders
        ]


async def _attendee_pages(db: Database, event: Event) -> AsyncIterator[list[list[Cell]]]:
    zone, after = ZoneInfo(event.timezone), None
    async with db.read() as session:
        type_names = {
            row.id: row.name
            for row in await session.execute(
                select(TicketType.id, TicketType.name).where(TicketType.event_id == event.id)
            )
        }
    # A ticket is on several lists at some events (the door, the VIP lounge): its latest
    # scan on any of them.
    latest_scan = (
        select(Checkin.ticket_id, func.max(Checkin.scanned_at).label("scanned_at"))
        .join(CheckinList, CheckinList.id == Checkin.list_id)
        .where(CheckinList.event_id == event.id)
        .group_by(Checkin.ticket_id)
        .subquery()
    )
    while True:
        query = (
            select(OrderItem, Order.number, Order.currency, latest_scan.c.scanned_at)
            .join(Order, Order.id == OrderItem.order_id)
            .outerjoin(latest_scan, latest_scan.c.ticket_id == OrderItem.id)
            .where(Order.event_id == event.id)
            .order_by(OrderItem.id)
            .limit(PAGE)
        )
        if after is not None:
            query = query.where(OrderItem.id > after)
        async with db.read() as session:
            rows = (await session.execute(query)).all()
        if not rows:
            return
        after = rows[-1][0].id
        yield [
            [
                number,
                str(item.id),
                type_names.get(item.ticket_type_id, ""),
                item.attendee_name,
                item.attendee_email,
                item.status,
                currency,
                _amount(item.total_minor, currency),
                _local(scanned_at, zone),
                "; ".join(f"{k}: {_answer(v)}" for k, v in sorted(item.answers.items())),
            ]
            for item, number, currency, scanned_at in rows
        ]


def _answer(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("value", value)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _pages(
    kind: Kind,
) -> tuple[list[str], Callable[[Database, Event], AsyncIterator[list[list[Cell]]]]]:
    if kind == Kind.ORDERS:
        return ORDER_COLUMNS, _order_pages
    return ATTENDEE_COLUMNS, _attendee_pages


async def stream_csv(db: Database, event: Event, kind: Kind) -> AsyncIterator[bytes]:
    columns, pages = _pages(kind)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(columns)
    async for page in pages(db, event):
        for row in page:
            writer.writerow([_csv_cell(safe(cell)) for cell in row])
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


def _csv_cell(cell: Cell) -> Cell:
    if isinstance(cell, datetime):
        return cell.isoformat()
    return cell


async def stream_xlsx(db: Database, event: Event, kind: Kind) -> AsyncIterator[bytes]:
    from openpyxl import Workbook  # imported when an export is asked for (startup time)

    columns, pages = _pages(kind)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(kind.value)
    sheet.append(columns)
    async for page in pages(db, event):
        await anyio.to_thread.run_sync(_append, sheet, page)
    handle, path = tempfile.mkstemp(suffix=".xlsx", prefix="boxoffice-export-")
    os.close(handle)
    try:
        await anyio.to_thread.run_sync(workbook.save, path)
        async with await anyio.open_file(path, "rb") as file:
            while chunk := await file.read(CHUNK):
                yield chunk
    finally:
        os.unlink(path)


def _append(sheet: Any, page: list[list[Cell]]) -> None:
    for row in page:
        # Spreadsheets hold no time zone: the event's local time, as shown everywhere else.
        sheet.append([c.replace(tzinfo=None) if isinstance(c, datetime) else safe(c) for c in row])
