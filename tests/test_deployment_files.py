"""The Dockerfile and compose.yaml stay true to the code they run: every BOXOFFICE_* setting
they name exists, every command they run is one the CLI takes, compose's plugins.toml loads
without a problem, and compose has the shape docs/deploy.md describes (PostgreSQL, two API
replicas behind a balancer that watches readiness, one worker, an SMTP catcher). No Docker
daemon runs here: these checks are what can rot without one noticing."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

from boxoffice.cli import build_parser
from boxoffice.core.clock import SystemClock
from boxoffice.core.storage import Database, create_engine
from boxoffice.platform import load_plugin_set
from boxoffice.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_every_setting_named_exists() -> None:
    named = set(
        re.findall(r"BOXOFFICE_([A-Z_]+)", DOCKERFILE + (ROOT / "compose.yaml").read_text())
    )
    assert named, "they configure boxoffice through its settings"
    unknown = {name for name in named if name.lower() not in Settings.__struct_fields__}
    assert unknown == set(), f"not settings: {sorted(unknown)}"


def test_every_command_is_one_the_cli_takes() -> None:
    (cmd,) = re.findall(r"^CMD (\[.*\])$", DOCKERFILE, re.MULTILINE)
    commands = [yaml.safe_load(cmd)]
    commands += [s["command"] for s in COMPOSE["services"].values() if "command" in s]
    boxoffice = [c for c in commands if c[0] == "boxoffice"]
    assert {c[1] for c in boxoffice} >= {"serve", "worker", "migrate"}
    for command in boxoffice:
        build_parser().parse_args(command[1:])  # exits (SystemExit) on a wrong one
    assert "USER boxoffice" in DOCKERFILE, "not root"
    assert "/health/ready" in DOCKERFILE.split("HEALTHCHECK", 1)[1]


def test_compose_has_the_documented_shape(tmp_path: Path) -> None:
    services = COMPOSE["services"]
    assert services["api"]["deploy"]["replicas"] == 2
    assert services["api"]["environment"]["BOXOFFICE_RUN_DISPATCHER"] == "false"
    assert shlex.join(services["worker"]["command"]) == "boxoffice worker"
    assert services["postgres"]["image"].startswith("postgres:")
    assert "mailpit" in services
    caddy = (ROOT / "deploy" / "Caddyfile").read_text()
    assert "dynamic a api 8000" in caddy
    assert "health_uri /health/ready" in caddy

    plugins = (ROOT / "deploy" / "plugins.toml").resolve()
    settings = Settings(data_dir=tmp_path, plugins_file=plugins)
    db = Database(create_engine(settings.resolved_database_url))  # never connected
    loaded = load_plugin_set(settings, SystemClock(), database=db, file_required=True)
    assert loaded.problems == []
    assert "smtp" in loaded.providers.by_kind("notification")
