"""``boxoffice journal …``: the journal for operators, from a shell (the admin API's
``/admin/journal`` routes do the same over HTTP)."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import msgspec

from boxoffice.core.journal import operations
from boxoffice.migrations import ensure_migrated
from boxoffice.platform import PROJECTIONS, Platform
from boxoffice.settings import Settings

T = TypeVar("T")


def _with_platform(settings: Settings, work: Callable[[Platform], Awaitable[T]]) -> T:
    async def run() -> T:
        platform = Platform.build(settings)
        try:
            await ensure_migrated(platform.db)
            return await work(platform)
        finally:
            await platform.close()

    return asyncio.run(run())


def _json(value: object) -> str:
    return msgspec.json.format(msgspec.json.encode(value), indent=2).decode()


def _last_line(error: str | None) -> str:
    """An error's last line (a traceback's says what went wrong)."""
    lines = (error or "").strip().splitlines()
    return lines[-1] if lines else ""


def cmd_subscribers(settings: Settings, args: argparse.Namespace) -> int:
    found = _with_platform(settings, lambda p: operations.subscribers(p.db, p.dispatcher))
    print(f"{'subscriber':40} {'position':>9} {'behind':>7} {'retries':>7} {'dead':>5}  error")
    for s in found:
        mark = "" if s.registered else " (not installed here)"
        print(
            f"{s.name + mark:40} {s.position:>9} {s.behind:>7} {s.attempts:>7} "
            f"{s.dead_letters:>5}  {_last_line(s.last_error)}"
        )
    return 0


def cmd_types(settings: Settings, args: argparse.Namespace) -> int:
    for entry_type in operations.entry_types():
        if args.schema:
            print(_json(entry_type))
        else:
            print(f"{entry_type.name:28} v{entry_type.schema_version}  {entry_type.aggregate_type}")
    return 0


def cmd_dead_letters(settings: Settings, args: argparse.Namespace) -> int:
    page = _with_platform(
        settings,
        lambda p: operations.dead_letters(
            p.db, subscriber=args.subscriber, include_retried=args.all, limit=args.limit
        ),
    )
    if not page.items:
        print("no dead letters")
    for d in page.items:
        retried = ""
        if d.retried_at is not None:
            retried = f"  retried {d.retried_at:%Y-%m-%d %H:%M} by {d.retried_by}"
        first_line = _last_line(d.error)
        print(
            f"#{d.id:<6} {d.failed_at:%Y-%m-%d %H:%M} {d.subscriber:28} {d.type:24} "
            f"position {d.position}: {first_line}{retried}"
        )
    return 0


def cmd_dead_letter(settings: Settings, args: argparse.Namespace) -> int:
    found = _with_platform(settings, lambda p: operations.dead_letter(p.db, args.id))
    print(_json(found))
    return 0


def cmd_retry(settings: Settings, args: argparse.Namespace) -> int:
    async def retry(platform: Platform) -> list[int]:
        ids = list(args.ids)
        if args.all:
            page = await operations.dead_letters(platform.db, subscriber=args.subscriber, limit=200)
            ids += [d.id for d in page.items]
        retried = []
        for dead_letter_id in ids:
            await operations.retry_dead_letter(
                platform.db, platform.clock, platform.dispatcher, dead_letter_id, by="cli"
            )
            retried.append(dead_letter_id)
        return retried

    done = _with_platform(settings, retry)
    print(f"retried {len(done)} dead letter(s): {', '.join(f'#{i}' for i in done) or '-'}")
    return 0


def cmd_replay(settings: Settings, args: argparse.Namespace) -> int:
    result = _with_platform(
        settings,
        lambda p: operations.replay(
            p.db,
            p.clock,
            p.dispatcher,
            args.name,
            projections=PROJECTIONS,
            from_position=args.from_position,
        ),
    )
    print(f"{result.subscriber}: delivered {result.delivered} entries again")
    return 0


def add_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
    settings_of: Callable[[argparse.Namespace], Settings],
) -> None:
    journal = sub.add_parser("journal", help="subscribers, dead letters, replays").add_subparsers(
        dest="journal_command", required=True
    )

    def command(
        name: str, run: Callable[[Settings, argparse.Namespace], int], help: str
    ) -> argparse.ArgumentParser:
        parser = journal.add_parser(name, parents=[common], help=help)
        parser.set_defaults(func=lambda args: run(settings_of(args), args))
        return parser

    command("subscribers", cmd_subscribers, "each subscriber: position, backlog, retries")
    types = command("types", cmd_types, "entry types and their schema versions")
    types.add_argument("--schema", action="store_true", help="print each JSON Schema")
    listing = command("dead-letters", cmd_dead_letters, "entries subscribers gave up on")
    listing.add_argument("--subscriber")
    listing.add_argument("--all", action="store_true", help="include retried ones")
    listing.add_argument("--limit", type=int, default=50)
    inspect = command("dead-letter", cmd_dead_letter, "one dead letter with its entry")
    inspect.add_argument("id", type=int)
    retry = command("retry", cmd_retry, "deliver dead letters' entries again")
    retry.add_argument("ids", type=int, nargs="*")
    retry.add_argument("--all", action="store_true", help="every dead letter not yet retried")
    retry.add_argument("--subscriber", help="with --all: only this subscriber's")
    replay = command(
        "replay", cmd_replay, "rebuild a projection, or deliver entries again from a position"
    )
    replay.add_argument("name", help="a projection (analytics) or a subscriber")
    replay.add_argument("--from", dest="from_position", type=int, help="first position")
