"""The journal: entries commit with their change; the dispatcher delivers each entry to each
subscriber at least once, in order, retries with backoff and dead-letters, on both engines."""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta
from typing import ClassVar

import pytest
from sqlalchemy import select, text

from boxoffice.core.clock import ManualClock
from boxoffice.core.journal import JournalEntry, RecordedEntry, append, entry_type
from boxoffice.core.journal.dispatcher import Dispatcher, DispatcherSettings, Subscriber
from boxoffice.core.journal.models import (
    JournalDeadLetterRow,
    JournalEntryRow,
    JournalSubscriberRow,
)
from boxoffice.core.storage import Database


@entry_type
class Pinged(JournalEntry, frozen=True, kw_only=True):
    aggregate_type: ClassVar[str] = "test"
    n: int

    def aggregate_id(self) -> str:
        return f"ping-{self.n}"


@entry_type
class Ponged(JournalEntry, frozen=True, kw_only=True):
    aggregate_type: ClassVar[str] = "test"
    n: int

    def aggregate_id(self) -> str:
        return f"pong-{self.n}"


async def ping(db: Database, clock: ManualClock, *numbers: int) -> None:
    async with db.transaction() as session:
        for n in numbers:
            await append(session, Pinged(n=n), clock)


class Recorder:
    def __init__(self, fail_times: dict[int, int] | None = None) -> None:
        self.seen: list[int] = []
        self.fail_times = dict(fail_times or {})

    async def __call__(self, entry: RecordedEntry) -> None:
        n = entry.data["n"]
        if self.fail_times.get(n, 0) > 0:
            self.fail_times[n] -= 1
            raise RuntimeError(f"cannot handle {n} yet")
        self.seen.append(n)


async def test_entries_commit_and_roll_back_with_their_change(
    db: Database, clock: ManualClock
) -> None:
    await ping(db, clock, 1)
    with pytest.raises(RuntimeError):
        async with db.transaction() as session:
            await append(session, Pinged(n=2), clock)
            raise RuntimeError("the change failed")
    async with db.read() as session:
        rows = (await session.scalars(select(JournalEntryRow))).all()
    assert [(r.type, r.data, r.aggregate_id) for r in rows] == [("Pinged", {"n": 1}, "ping-1")]
    assert rows[0].occurred_at == clock.now()


async def test_unregistered_entry_types_are_refused(db: Database, clock: ManualClock) -> None:
    class Stray(JournalEntry, frozen=True, kw_only=True):
        def aggregate_id(self) -> str:
            return "x"

    with pytest.raises(TypeError, match="registered"):
        async with db.transaction() as session:
            await append(session, Stray(), clock)


async def test_delivers_in_order_once_and_decodes(db: Database, clock: ManualClock) -> None:
    recorder = Recorder()
    decoded: list[JournalEntry | None] = []

    async def decode(entry: RecordedEntry) -> None:
        decoded.append(entry.decode())

    dispatcher = Dispatcher(db, clock, [Subscriber("rec", recorder), Subscriber("dec", decode)])
    await ping(db, clock, 1, 2, 3)
    await ping(db, clock, 4)
    assert await dispatcher.run_until_idle() == 8
    assert recorder.seen == [1, 2, 3, 4]
    assert decoded == [Pinged(n=1), Pinged(n=2), Pinged(n=3), Pinged(n=4)]
    assert await dispatcher.run_once() == 0
    await ping(db, clock, 5)
    await dispatcher.run_until_idle()
    assert recorder.seen == [1, 2, 3, 4, 5]


async def test_a_failure_is_retried_after_backoff_keeping_order(
    db: Database, clock: ManualClock
) -> None:
    recorder = Recorder(fail_times={2: 2})
    dispatcher = Dispatcher(db, clock, [Subscriber("rec", recorder)])
    await ping(db, clock, 1, 2, 3)
    await dispatcher.run_once()
    assert recorder.seen == [1]
    await dispatcher.run_once()
    assert recorder.seen == [1], "not due yet: the backoff holds it"
    clock.advance(seconds=1)
    await dispatcher.run_once()
    assert recorder.seen == [1], "second failure"
    clock.advance(seconds=2)
    await dispatcher.run_until_idle()
    assert recorder.seen == [1, 2, 3], "retried, and 3 waited for 2"


async def test_after_max_attempts_the_entry_is_dead_lettered(
    db: Database, clock: ManualClock
) -> None:
    recorder = Recorder(fail_times={1: 99})
    settings = DispatcherSettings(max_attempts=3, base_delay=timedelta(seconds=1))
    dispatcher = Dispatcher(db, clock, [Subscriber("rec", recorder)], settings)
    await ping(db, clock, 1, 2)
    for _ in range(3):
        await dispatcher.run_once()
        clock.advance(minutes=1)
    await dispatcher.run_until_idle()
    assert recorder.seen == [2]
    async with db.read() as session:
        dead = (await session.scalars(select(JournalDeadLetterRow))).all()
    assert [(d.subscriber, d.attempts) for d in dead] == [("rec", 3)]
    assert "cannot handle 1 yet" in dead[0].error


async def test_type_filter_and_start_at_end(db: Database, clock: ManualClock) -> None:
    await ping(db, clock, 1)
    pongs: list[int] = []
    late: list[int] = []

    async def on_pong(entry: RecordedEntry) -> None:
        pongs.append(entry.data["n"])

    async def on_late(entry: RecordedEntry) -> None:
        late.append(entry.data["n"])

    dispatcher = Dispatcher(
        db,
        clock,
        [
            Subscriber("pongs", on_pong, types=frozenset({"Ponged"})),
            Subscriber("late", on_late, start_at_end=True),
        ],
    )
    await dispatcher.run_until_idle()
    async with db.transaction() as session:
        await append(session, Ponged(n=7), clock)
        await append(session, Pinged(n=8), clock)
    await dispatcher.run_until_idle()
    assert pongs == [7]
    assert late == [7, 8], "a subscriber that starts at the end does not replay history"


async def test_two_workers_deliver_each_entry_once(db: Database, clock: ManualClock) -> None:
    seen: list[int] = []

    async def slow(entry: RecordedEntry) -> None:
        await asyncio.sleep(0.001)
        seen.append(entry.data["n"])

    workers = [Dispatcher(db, clock, [Subscriber("shared", slow)]) for _ in range(2)]
    await ping(db, clock, *range(30))
    for _ in range(5):
        await asyncio.gather(*(w.run_until_idle() for w in workers))
    assert sorted(seen) == list(range(30))
    assert len(seen) == 30, "the lease let only one worker serve the subscriber at a time"


async def test_an_entry_committed_late_is_not_skipped(
    db: Database, clock: ManualClock, db_engine: str
) -> None:
    """Positions are taken when a row is inserted, but transactions commit in any order: the
    dispatcher must not read past a transaction that is still open."""
    recorder = Recorder()
    dispatcher = Dispatcher(db, clock, [Subscriber("rec", recorder)])
    first_open = asyncio.Event()
    release_first = asyncio.Event()

    async def slow_writer() -> None:
        async with db.transaction() as session:
            await append(session, Pinged(n=1), clock)
            await session.flush()
            first_open.set()
            await release_first.wait()

    slow = asyncio.create_task(slow_writer())
    await first_open.wait()
    fast = asyncio.create_task(ping(db, clock, 2))
    await asyncio.sleep(0.3)
    if db_engine == "postgresql":
        # 2 has committed while 1, a lower position, is still open: deliver neither yet.
        assert fast.done()
        await dispatcher.run_once()
        assert recorder.seen == []
    else:
        # SQLite: the writer of 2 waits for the write lock, so positions commit in order.
        assert not fast.done()
    release_first.set()
    await asyncio.gather(slow, fast)
    await dispatcher.run_until_idle()
    assert recorder.seen == [1, 2]


async def test_a_lower_position_of_a_younger_transaction_is_not_skipped(
    db: Database, clock: ManualClock, db_engine: str
) -> None:
    """On PostgreSQL a transaction gets its id at its first write and an entry its position
    when appended: an older transaction (smaller id) may append after a younger one (larger
    id) did, and commit first. Reading "entries of finished transactions, in position
    order" would then deliver the older one's higher position and move the cursor past the
    younger one's lower position before it commits — skipping it for good."""
    recorder = Recorder()
    dispatcher = Dispatcher(db, clock, [Subscriber("rec", recorder)])
    if db_engine == "sqlite":  # one writer at a time: positions commit in order
        await ping(db, clock, 1)
        await ping(db, clock, 2)
        await dispatcher.run_until_idle()
        assert recorder.seen == [1, 2]
        return
    younger_appended = asyncio.Event()
    older_committed = asyncio.Event()
    older_has_id = asyncio.Event()

    async def older() -> None:
        async with db.transaction() as session:
            await session.execute(text("SELECT pg_current_xact_id()"))  # takes its id now
            older_has_id.set()
            await younger_appended.wait()
            await append(session, Pinged(n=2), clock)  # the higher position
        older_committed.set()

    async def younger() -> None:
        await older_has_id.wait()
        async with db.transaction() as session:
            await append(session, Pinged(n=1), clock)  # the lower position
            await session.flush()
            younger_appended.set()
            await older_committed.wait()
            await dispatcher.run_once()  # while this one is still open
        await dispatcher.run_until_idle()

    await asyncio.wait_for(asyncio.gather(older(), younger()), 30)
    async with db.read() as session:
        entries = await session.execute(select(JournalEntryRow.position, JournalEntryRow.data))
        position_of = {data["n"]: position for position, data in entries}
    assert position_of[1] < position_of[2], "the scenario: the younger one appended first"
    assert sorted(recorder.seen) == [1, 2], "the younger transaction's entry was skipped"
    assert len(recorder.seen) == 2


async def test_only_committed_transactions_that_appended_wake_the_dispatcher(
    db: Database, clock: ManualClock
) -> None:
    """The "entries were appended" mark belongs to one transaction: a rolled-back one leaves
    nothing behind on the pooled connection for the next (both ways in, both engines)."""
    from sqlalchemy import Connection

    from boxoffice.core.booking.entries import CapacityReleased
    from boxoffice.core.journal.service import APPENDED, append_sync

    seen: list[bool] = []
    db.after_commit(lambda info: seen.append(bool(info.get(APPENDED))))
    entry = CapacityReleased(event_id="e1", ticket_type_ids=[], seats=1, why="test")

    def append_then_fail(connection: Connection) -> None:
        append_sync(connection, entry, clock)
        raise RuntimeError("rolled back")

    await db.run(lambda connection: append_sync(connection, entry, clock))
    with pytest.raises(RuntimeError):
        await db.run(append_then_fail)
    await db.run(lambda connection: None)
    async with db.transaction() as session:
        await append(session, entry, clock)
    async with db.transaction():
        pass
    await db.run(lambda connection: None)
    assert seen == [True, False, True, False, False]
    async with db.read() as session:
        kept = list(await session.scalars(select(JournalEntryRow.type)))
    assert kept == ["CapacityReleased", "CapacityReleased"]


async def test_a_cancellation_that_surfaces_as_another_error_still_stops_the_dispatcher(
    db: Database, clock: ManualClock
) -> None:
    """At shutdown the dispatcher's task is cancelled, and the cancellation can land in a
    handler whose cleanup then fails (an interrupted database connection raises its own
    error). The dispatcher must stop all the same, not count it as the entry's failure, and
    give its lease back so another worker delivers the entry."""
    started = asyncio.Event()

    async def interrupted(entry: RecordedEntry) -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            raise RuntimeError("cleanup of the interrupted work failed") from None

    await ping(db, clock, 1)
    dispatcher = Dispatcher(db, clock, [Subscriber("slow", interrupted)])
    task = asyncio.create_task(dispatcher.run_forever())
    await asyncio.wait_for(started.wait(), 10)
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=5)
    assert done, "the dispatcher kept running after it was cancelled"
    assert task.cancelled()
    async with db.read() as session:
        state = await session.get(JournalSubscriberRow, "slow")
    assert state is not None
    assert (state.attempts, state.last_error) == (0, None), "not the entry's failure"
    recorder = Recorder()
    await Dispatcher(db, clock, [Subscriber("slow", recorder)]).run_until_idle()
    assert recorder.seen == [1], "the lease was given back: the entry is delivered"


async def test_commits_one_after_another_wake_the_workers_once_per_gather_delay(
    db: Database, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An API process beside a worker wakes it with a ``NOTIFY`` after a commit that appends
    entries: at most one per ``gather_delay``, also when the commits come one by one (each
    after the last ``NOTIFY`` ended), not only when they come together."""
    dispatcher = Dispatcher(db, clock, settings=DispatcherSettings(gather_delay=0.2))
    dispatcher.notifies_others = True
    loop = asyncio.get_running_loop()
    sent: list[float] = []
    notify = db.notify

    async def counted(channel: str) -> None:
        sent.append(loop.time())
        await notify(channel)

    monkeypatch.setattr(db, "notify", counted)
    began = loop.time()
    for n in range(12):
        await ping(db, clock, n)
        await asyncio.sleep(0.04)  # the NOTIFY of the commit before has gone by now
    lasted = loop.time() - began
    await asyncio.sleep(0.5)  # the one the last commits asked for
    assert sent, "the other processes are woken"
    assert len(sent) <= lasted / 0.2 + 2, f"{len(sent)} NOTIFYs for 12 commits in {lasted:.2f} s"
    gaps = [later - earlier for earlier, later in itertools.pairwise(sent)]
    assert all(gap >= 0.19 for gap in gaps), gaps
    assert sent[-1] >= began + lasted - 0.04, "the last commits' wake-up is not dropped"
