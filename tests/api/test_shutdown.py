"""A server under load that gets SIGTERM stops its background work before it closes its
connections, and exits cleanly within a bound (the wait for background work is bounded)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from boxoffice.cli import WORKER_RUNNING
from boxoffice.testing import ServerProcesses
from tests.servers import demo_environment

#: SIGTERM to exit, for a server in the middle of serving.
EXIT_BOUND_SECONDS = 20.0


def test_sigterm_under_load_exits_cleanly_and_in_time(db_url: str, tmp_path: Path) -> None:
    env = demo_environment(db_url, tmp_path / "data")
    # Two worker processes under uvicorn's supervisor on PostgreSQL (the signal reaches the
    # supervisor, which stops both and waits for them); SQLite serves with one process.
    servers = ServerProcesses(1, env, workers=2)
    with servers as (url,):
        event = httpx.get(f"{url}/api/v1/events").json()["items"][0]["id"]
        ticket_type = httpx.get(f"{url}/api/v1/events/{event}/ticket-types").json()[0]["id"]
        stop, served = threading.Event(), []

        def buyers() -> None:
            with httpx.Client(timeout=5) as client:
                while not stop.is_set():
                    try:
                        response = client.post(
                            f"{url}/api/v1/events/{event}/orders",
                            json={
                                "items": [{"ticket_type_id": ticket_type, "quantity": 1}],
                                "buyer": {"name": "Load", "email": "load@example.org"},
                            },
                        )
                        served.append(response.status_code)
                        client.get(f"{url}/api/v1/events")
                    except httpx.TransportError:
                        return  # the server went away, as it should

        load = [threading.Thread(target=buyers) for _ in range(3)]
        for thread in load:
            thread.start()
        time.sleep(2.0)
        started = time.monotonic()
        servers.processes[0].send_signal(signal.SIGTERM)
        try:
            code = servers.processes[0].wait(timeout=EXIT_BOUND_SECONDS)
        except subprocess.TimeoutExpired:
            stop.set()
            raise AssertionError(
                f"still running after {EXIT_BOUND_SECONDS} s:\n" + servers.log(0)[-4000:]
            ) from None
        took = time.monotonic() - started
        stop.set()
        for thread in load:
            thread.join(timeout=10)
        log = servers.log(0)
    assert served, "the server was under load when it was told to stop"
    assert took < EXIT_BOUND_SECONDS, f"took {took:.1f} s to exit"
    # uvicorn shuts down gracefully, then raises the signal it caught again: -SIGTERM.
    assert code in (0, -signal.SIGTERM), log[-3000:]
    # A request still running when the wait for requests ends (BOXOFFICE_SHUTDOWN_TIMEOUT;
    # on a starved machine a request can take that long) is cancelled and logged with its
    # traceback: that is the bound doing its work, not trouble.
    log = "\n".join(
        line for line in log.splitlines() if "timeout graceful shutdown exceeded" not in line
    )
    for trouble in ("Traceback", "connection is closed", "did_not_stop", "unhandled_error"):
        at = log.find(trouble)
        assert at < 0, log[max(0, at - 2500) : at + 2500]


def test_the_worker_stops_on_sigterm(db_url: str, tmp_path: Path) -> None:
    """``boxoffice worker`` (dispatcher, sweeper, maintenance) stops its work and exits 0
    at SIGTERM, as a process manager stops it."""
    env = {**os.environ, **demo_environment(db_url, tmp_path / "data")}
    worker = subprocess.Popen(
        [sys.executable, "-m", "boxoffice", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert worker.stderr is not None
    said = b""
    while WORKER_RUNNING.encode() not in said:  # started, its signal handlers in place
        line = worker.stderr.readline()
        assert line, f"the worker ended before it ran: {said.decode()[-3000:]}"
        said += line
    time.sleep(1.0)  # delivering the demo's journal entries
    assert worker.poll() is None
    started = time.monotonic()
    worker.send_signal(signal.SIGTERM)
    _, errors = worker.communicate(timeout=EXIT_BOUND_SECONDS)
    errors = said + errors
    assert time.monotonic() - started < EXIT_BOUND_SECONDS
    assert worker.returncode == 0, errors.decode()[-3000:]
    assert b"Traceback" not in errors, errors.decode()[-3000:]


def test_a_draining_server_fails_readiness_yet_serves_then_exits(
    db_url: str, tmp_path: Path
) -> None:
    """SIGTERM with ``BOXOFFICE_DRAIN_SECONDS``: readiness answers 503 ``draining`` at once,
    so a load balancer takes the process out, while it keeps answering requests for those
    seconds; then it stops. On PostgreSQL ``serve --workers 2`` runs the background work in
    one ``boxoffice worker`` beside the API processes, and stops it too."""
    env = {**demo_environment(db_url, tmp_path / "data"), "BOXOFFICE_DRAIN_SECONDS": "3"}
    servers = ServerProcesses(1, env, workers=2)
    with servers as (url,):
        pids = servers.pids()
        commands = [_command_line(pid) for pid in pids]
        workers = [c for c in commands if c.endswith("boxoffice worker")]
        assert len(workers) == (1 if db_url.startswith("postgresql") else 0), commands
        assert httpx.get(f"{url}/health/ready").status_code == 200
        servers.processes[0].send_signal(signal.SIGTERM)
        with httpx.Client(timeout=5) as client:
            deadline = time.monotonic() + 2.5
            while (ready := client.get(f"{url}/health/ready")).status_code == 200:
                assert time.monotonic() < deadline, "readiness never failed"
            assert ready.status_code == 503
            assert ready.json()["draining"] is True
            assert ready.json()["database"]["state"] == "up", "the database is not down"
            assert client.get(f"{url}/api/v1/events").status_code == 200, "still serving"
        code = servers.processes[0].wait(timeout=EXIT_BOUND_SECONDS)
        assert code in (0, -signal.SIGTERM), servers.log(0)[-3000:]
        # multiprocessing's resource tracker ends by itself once the last process holding
        # its pipe has ended: a moment after the server.
        deadline = time.monotonic() + 5
        while (left := [pid for pid in pids if _command_line(pid)]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert left == [], f"processes left behind: {[_command_line(pid) for pid in left]}"


def _command_line(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return " ".join(part.decode() for part in raw.split(b"\0") if part).removeprefix(
        sys.executable + " -m "
    )
