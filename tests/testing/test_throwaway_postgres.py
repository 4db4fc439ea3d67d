"""The throwaway PostgreSQL server of the test harness does not outlive the run that
started it, even when that run dies without stopping it (killed, or an xdist worker
crashed): a watcher beside it stops it and removes its files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from boxoffice.testing import find_postgres_bindir

STARTS_AND_WAITS = """
import sys, time
from pathlib import Path
from boxoffice.testing import PostgresServer
server = PostgresServer.start(Path(sys.argv[1]))
print(server.directory, server.process.pid, flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (ended, not yet reaped by its parent) counts as gone.
    status = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[-1].split()[0]
    return status != "Z"


def test_a_server_whose_starter_was_killed_is_stopped_and_removed() -> None:
    bindir = find_postgres_bindir()
    if bindir is None:  # the session's own server could not start either: said loudly there
        pytest.fail("PostgreSQL server binaries not found")
    starter = subprocess.Popen(
        [sys.executable, "-c", STARTS_AND_WAITS, str(bindir)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert starter.stdout is not None
        directory, pid = starter.stdout.readline().split()
        assert _alive(int(pid))
        starter.send_signal(signal.SIGKILL)  # no clean-up of its own
        starter.wait()
        deadline = time.monotonic() + 40
        while (_alive(int(pid)) or Path(directory).exists()) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(int(pid)), "the server outlived the run that started it"
        assert not Path(directory).exists(), "its files were left behind"
    finally:
        if starter.poll() is None:
            starter.kill()
