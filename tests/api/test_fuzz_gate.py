"""The fuzz gate: schemathesis over the OpenAPI document, against a real server on each
engine, anonymously and signed in as an organizer (its organization and event as the path
parameters), every operation, a fixed seed: no 5xx, and no answer its operation does not document (status
code, content type, headers, body)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from boxoffice.testing import ServerProcesses
from tests.servers import DEMO_ORGANIZER, demo_environment

#: Operations that end the organizer's own session: run, they would sign the fuzzer out.
SIGN_OUT = ("/api/v1/auth/logout", "/api/v1/auth/password/change")


def schemathesis(url: str, config: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config),
        "run",
        f"{url}/schema/openapi.json",
        "--checks",
        "not_a_server_error,status_code_conformance,content_type_conformance,"
        "response_headers_conformance,response_schema_conformance",
        "--phases",
        "examples,coverage,fuzzing",
        # Fixed path parameters (the config) leave few generated paths for some operations.
        "--suppress-health-check",
        "filter_too_much",
        "--max-examples",
        "15",
        "--seed",
        "1",
        "--workers",
        "1",
        "--no-color",
        *extra,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=config.parent)


#: Two schemathesis runs of every operation take two to five minutes on a busy CI machine:
#: more than the suite's default limit, and each run has its own (600 s) all the same.
@pytest.mark.timeout(1200)
def test_no_input_gets_a_5xx_or_an_undocumented_answer(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = demo_environment(db_url, tmp_path / "data")
    capsys.readouterr()
    with ServerProcesses(1, env) as (url,):
        signed_in = httpx.post(f"{url}/api/v1/auth/login", json=DEMO_ORGANIZER).json()
        auth = {"authorization": f"Bearer {signed_in['access_token']}"}
        org_id = httpx.get(f"{url}/api/v1/me/organizations", headers=auth).json()[0]["id"]
        event_id = httpx.get(f"{url}/api/v1/events").json()["items"][0]["id"]
        config = tmp_path / "schemathesis.toml"
        config.write_text(f'[parameters]\norg_id = "{org_id}"\nevent_id = "{event_id}"\n')
        runs = {
            "anonymous": schemathesis(url, config),
            "organizer": schemathesis(
                url,
                config,
                "-H",
                f"Authorization: {auth['authorization']}",
                *[arg for path in SIGN_OUT for arg in ("--exclude-path", path)],
            ),
        }
    for who, run in runs.items():
        report = run.stdout[run.stdout.find("FAILURES") :][:6000]  # the failures come first
        assert run.returncode == 0, f"{who}:\n{report}\n{run.stderr[-2000:]}"
        assert "generated" in run.stdout, run.stdout[-2000:]
