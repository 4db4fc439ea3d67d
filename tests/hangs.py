"""What a hung test was doing, where CI shows it.

pytest-timeout ends a test that runs past its limit by dumping every thread's stack and
ending the process (``timeout_method = "thread"``: an asyncio test stuck in the event loop
never returns to where a signal could interrupt it). Under xdist that dump goes to the
worker's captured output, which dies with it: CI says only "worker crashed". So, a little
before that limit, this plugin writes what the test is doing — every thread's stack and
every asyncio task's (the coroutines the loop is waiting on, which the threads' stacks do
not show) — to a file that the controlling process prints in the run's summary.
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest

#: Environment variable naming the folder of dumps (set by the controlling process, so
#: that xdist's workers, which inherit it, write where it reads).
HANGS_DIR = "BOXOFFICE_HANG_DUMPS"
#: Dump this many seconds before pytest-timeout's limit.
AHEAD_SECONDS = 45.0
_OWN_DIR = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput") and HANGS_DIR not in os.environ:
        os.environ[HANGS_DIR] = tempfile.mkdtemp(prefix="boxoffice-hangs-")
        config.stash[_OWN_DIR] = os.environ[HANGS_DIR]


def pytest_unconfigure(config: pytest.Config) -> None:
    """The run that made the folder removes it, once its summary has printed the dumps."""
    folder = config.stash.get(_OWN_DIR, None)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
        del os.environ[HANGS_DIR]


def _limit(item: pytest.Item) -> float:
    marker = item.get_closest_marker("timeout")
    if marker is not None and marker.args:
        return float(marker.args[0])
    return float(item.config.getini("timeout") or 0)


def _running_loops() -> list[asyncio.AbstractEventLoop]:
    """The event loops running in some thread, found on the threads' stacks (``gc`` does not
    see them once the app's start-up has frozen the collector's objects)."""
    loops: dict[int, asyncio.AbstractEventLoop] = {}
    for frame in sys._current_frames().values():
        while frame is not None:
            candidate = frame.f_locals.get("self")
            if isinstance(candidate, asyncio.AbstractEventLoop):
                loops[id(candidate)] = candidate
            frame = frame.f_back  # type: ignore[assignment]
    return list(loops.values())


def _threads() -> str:
    """Every thread's stack, the main thread first; threads idling in a driver's worker
    loop (aiosqlite's, one per connection) are only counted."""
    out = io.StringIO()
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    frames = sorted(
        sys._current_frames().items(), key=lambda item: item[0] != threading.main_thread().ident
    )
    idle = 0
    for ident, frame in frames:
        stack = traceback.format_stack(frame)
        if stack and "_connection_worker_thread" in stack[-1]:
            idle += 1
            continue
        out.write(f"\n--- thread {names.get(ident, ident)} (most recent call last):\n")
        out.write("".join(stack[-40:]))
    out.write(f"\n({idle} idle database driver threads left out)\n")
    return out.getvalue()


def _tasks_of_running_loops() -> str:
    out = io.StringIO()
    for loop in _running_loops():
        for _ in range(3):  # the set may change while it is read from this thread
            try:
                tasks = list(asyncio.all_tasks(loop))
                break
            except RuntimeError:
                time.sleep(0.01)
        else:
            continue
        for task in tasks:
            out.write(f"\n--- {task.get_name()}, awaiting (outermost first):\n")
            frames = [(frame, frame.f_lineno) for frame in _awaiting(task.get_coro())]
            out.write("".join(traceback.StackSummary.extract(frames).format()))
    return out.getvalue()


def _awaiting(coroutine: object) -> Iterator[FrameType]:
    """The frames of a coroutine and of what it awaits, down to where it is suspended (a
    task's own stack shows only its outermost coroutine)."""
    while coroutine is not None:
        frame = getattr(coroutine, "cr_frame", None) or getattr(coroutine, "gi_frame", None)
        if frame is not None:
            yield frame
        coroutine = getattr(coroutine, "cr_await", None) or getattr(coroutine, "gi_yieldfrom", None)


def _dump(nodeid: str) -> None:
    folder = os.environ.get(HANGS_DIR)
    if not folder:
        return
    path = Path(folder) / f"{os.getpid()}-{time.monotonic_ns()}.txt"
    with open(path, "w") as file:
        file.write(f"HUNG TEST: {nodeid}\n")
        for title, part in (("threads", _threads), ("asyncio tasks", _tasks_of_running_loops)):
            file.write(f"\n=== {title}\n")
            try:
                file.write(part())
            except Exception as error:  # a diagnosis must not fail the run itself
                file.write(f"(could not list them: {error!r})\n")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    limit = _limit(item)
    timer = None
    if limit > AHEAD_SECONDS:
        timer = threading.Timer(limit - AHEAD_SECONDS, _dump, args=(item.nodeid,))
        timer.daemon = True
        timer.start()
    try:
        yield
    finally:
        if timer is not None:
            timer.cancel()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    folder = os.environ.get(HANGS_DIR)
    if not folder or not Path(folder).is_dir():
        return
    for path in sorted(Path(folder).glob("*.txt")):
        terminalreporter.write_sep("=", "a test ran close to its time limit: what it was doing")
        terminalreporter.write_line(path.read_text(errors="replace")[-20_000:])
