"""Migrations are expand/contract (docs/deploy.md): during a rolling deploy the old release
runs against the new schema, so a migration may add (tables, nullable or defaulted columns,
indexes) but not take away what the previous release still uses. A drop or a rename is a
*contract* step: its own migration, shipped a release after the code stopped using the
thing, and marked ``CONTRACT = "<why the previous release no longer needs it>"``.

Two early revisions predate the rule: they dropped columns in place."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlalchemy import text

import boxoffice.migrations
from boxoffice.core.errors import DatabaseNotMigrated
from boxoffice.core.storage import Database
from boxoffice.migrations import ensure_migrated, known_revisions

VERSIONS = Path(boxoffice.migrations.__file__).parent / "versions"
BEFORE_THE_RULE = {"0016_link_secrets_hashed.py", "0023_notification_engine.py"}
CONTRACTING = {"drop_column", "drop_table", "rename_table", "drop_constraint"}


def _calls_in_upgrade(tree: ast.Module) -> set[str]:
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "upgrade":
            for call in ast.walk(node):
                if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute):
                    found.add(call.func.attr)
                    if any(k.arg == "new_column_name" for k in call.keywords):
                        found.add("rename_column")
    return found


def _declares_contract(tree: ast.Module) -> bool:
    return any(
        isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "CONTRACT" for t in node.targets)
        and isinstance(node.value, ast.Constant)
        and bool(node.value.value)
        for node in tree.body
    )


def test_migrations_only_expand_unless_marked_as_a_contract_step() -> None:
    in_one_step = {}
    for path in sorted(VERSIONS.glob("[0-9][0-9][0-9][0-9]_*.py")):
        tree = ast.parse(path.read_text())
        contracting = _calls_in_upgrade(tree) & (CONTRACTING | {"rename_column"})
        if contracting and not _declares_contract(tree):
            in_one_step[path.name] = sorted(contracting)
    assert set(in_one_step) == BEFORE_THE_RULE, (
        f"{in_one_step}: a drop or rename in one step, while the running release may still "
        "use it. Expand now, contract in a later release (CONTRACT = '...')"
    )


def test_the_rule_catches_a_drop() -> None:
    dropping = ast.parse("def upgrade():\n    op.drop_column('event', 'title')\n")
    assert "drop_column" in _calls_in_upgrade(dropping)
    assert not _declares_contract(dropping)
    marked = ast.parse("CONTRACT = 'unused since 0.4'\n" + "def upgrade():\n    pass\n")
    assert _declares_contract(marked)


async def test_a_release_runs_on_the_next_releases_schema_but_not_on_an_older_one(
    db: Database,
) -> None:
    """A rolling deploy migrates first: the running release then meets a revision it does
    not know (ahead: it runs on, and stays ready), never one it knows to be behind."""
    await ensure_migrated(db)
    async with db.transaction() as session:
        await session.execute(text("UPDATE alembic_version SET version_num = '0099_next'"))
    await ensure_migrated(db)  # ahead: fine
    older = sorted(known_revisions())[0]
    async with db.transaction() as session:
        await session.execute(text(f"UPDATE alembic_version SET version_num = '{older}'"))
    with pytest.raises(DatabaseNotMigrated, match="Run `boxoffice migrate`"):
        await ensure_migrated(db)
