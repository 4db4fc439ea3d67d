"""Real ``boxoffice serve`` processes for tests and benchmarks."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from boxoffice.testing.postgres import free_port


class ServerProcesses:
    """``count`` real ``boxoffice serve`` processes on free loopback ports, sharing one
    database: for tests that several stateless API processes behave as one, and for
    benchmarks. ``env`` holds the ``BOXOFFICE_*`` settings (database URL, data directory,
    plugins file, secret key)::

        with ServerProcesses(3, env) as urls:
            ...  # send requests to any of urls; servers.kill(0) stops one with SIGKILL
    """

    def __init__(
        self,
        count: int,
        env: dict[str, str],
        *,
        workers: int = 1,
        command: Callable[[int], list[str]] | None = None,
    ) -> None:
        """``command``: the command line of a server on the given port, instead of
        ``boxoffice serve`` (another ASGI server, in a benchmark)."""
        self.count, self.workers = count, workers
        self.command = command or self._serve
        self.env = {**os.environ, "BOXOFFICE_LOG_LEVEL": "WARNING", **env}
        self.processes: list[subprocess.Popen[bytes]] = []
        self.urls: list[str] = []
        self._logs: list[Any] = []

    def __enter__(self) -> list[str]:
        for _ in range(self.count):
            port = free_port()
            log = tempfile.TemporaryFile()
            self._logs.append(log)
            self.processes.append(
                subprocess.Popen(
                    self.command(port), env=self.env, stdout=subprocess.DEVNULL, stderr=log
                )
            )
            self.urls.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 60
        for process, url, log in zip(self.processes, self.urls, self._logs, strict=True):
            while True:
                if process.poll() is not None:
                    log.seek(0)
                    error = log.read().decode(errors="replace")
                    self.__exit__(None, None, None)
                    raise RuntimeError(f"boxoffice serve exited at start-up: {error[-2000:]}")
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    self.__exit__(None, None, None)
                    raise RuntimeError(f"boxoffice serve at {url} did not become ready")
                time.sleep(0.1)
        return self.urls

    def _serve(self, port: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "boxoffice",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(self.workers),
        ]

    def pids(self) -> list[int]:
        """Every server process and its descendants (uvicorn's worker processes, the
        ``boxoffice worker`` that ``serve --workers N`` starts on PostgreSQL)."""
        found, todo = [], [process.pid for process in self.processes]
        while todo:
            pid = todo.pop(0)
            found.append(pid)
            children = Path(f"/proc/{pid}/task/{pid}/children")
            if children.exists():
                todo.extend(int(child) for child in children.read_text().split())
        return found

    def log(self, index: int) -> str:
        """What server ``index`` wrote to standard error so far."""
        log = self._logs[index]
        log.seek(0)
        text: str = log.read().decode(errors="replace")
        return text

    def kill(self, index: int) -> None:
        """Stop one server at once (SIGKILL): whatever it was doing is cut off mid-request."""
        self.processes[index].kill()
        self.processes[index].wait(timeout=10)

    def __exit__(self, *exc_info: object) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        for log in self._logs:
            log.close()
