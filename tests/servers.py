"""A real server with the demo data, for tests that need whole processes."""

from __future__ import annotations

import os
from pathlib import Path

from boxoffice import cli

ROOT = Path(__file__).resolve().parents[1]
DEMO_ORGANIZER = {"email": "organizer@demo.example", "password": "demo organizer password"}


def demo_environment(db_url: str, data_dir: Path) -> dict[str, str]:
    """The ``BOXOFFICE_*`` settings of a server on ``db_url`` (migrated), with the demo
    data loaded into it."""
    env = {
        "BOXOFFICE_DATABASE_URL": db_url,
        "BOXOFFICE_DATA_DIR": str(data_dir),
        "BOXOFFICE_PLUGINS_FILE": str(ROOT / "plugins.toml"),
        "BOXOFFICE_SECRET_KEY": "test-server-signing-key-0123456789abcdef",
    }
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        assert cli.main(["demo"]) == 0
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return env
