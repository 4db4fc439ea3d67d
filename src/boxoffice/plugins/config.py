"""plugins.toml: the ops configuration, parsed and validated with msgspec.

Every problem is reported as the key it concerns and the line it stands on, e.g.
``plugins.toml:14: routing.payments[0].providers: unknown payment gateway 'strpie'``.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec

ENV_PREFIX = "env:"

KeyPath = tuple[str | int, ...]


class PluginsSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    #: When given, only these plugins are loaded.
    enabled: list[str] | None = None
    disabled: list[str] = []


class RegionsSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    enabled: list[str] = []


class SearchSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    backend: str | None = None


class MediaSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    store: str | None = None


class PaymentRule(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    providers: list[str]
    region: str | None = None
    currency: str | None = None


class NotificationRule(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    providers: list[str]
    kind: str = "email"
    region: str | None = None


class RoutingSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    payments: list[PaymentRule] = []
    notifications: list[NotificationRule] = []


#: What each list under ``[routing]`` holds.
RULE_TYPES: dict[str, type[msgspec.Struct]] = {
    "payments": PaymentRule,
    "notifications": NotificationRule,
}


class PluginsConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    plugins: PluginsSection = PluginsSection()
    regions: RegionsSection = RegionsSection()
    search: SearchSection = SearchSection()
    media: MediaSection = MediaSection()
    providers: dict[str, dict[str, Any]] = {}
    routing: RoutingSection = RoutingSection()


class Problem(msgspec.Struct, frozen=True):
    """One thing wrong with the configuration."""

    key: str
    message: str
    file: str = ""
    line: int | None = None

    def __str__(self) -> str:
        where = (
            f"{self.file}:{self.line}: "
            if self.file and self.line
            else (f"{self.file}: " if self.file else "")
        )
        return f"{where}{self.key}: {self.message}" if self.key else f"{where}{self.message}"


def format_key(path: Sequence[str | int]) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + part
    return text


class LineIndex:
    """Where each table and key of a TOML file stands, for messages that name a line.

    ``tomllib`` keeps no positions, so this reads the text: table headers ``[a.b]``,
    array tables ``[[a.b]]`` (counted) and ``key =`` lines. Good for the shapes
    plugins.toml uses; an unlocatable key falls back to its nearest located parent.
    """

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
    _KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"'.]+)\s*=")

    def __init__(self, text: str) -> None:
        self.lines: dict[KeyPath, int] = {}
        table: KeyPath = ()
        counters: dict[KeyPath, int] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            header = self._HEADER.match(line)
            if header:
                path: KeyPath = tuple(self._split(header.group(2)))
                if header.group(1) == "[[":
                    index = counters.get(path, 0)
                    counters[path] = index + 1
                    path = (*path, index)
                table = path
                self.lines.setdefault(table, number)
                continue
            key = self._KEY.match(line)
            if key:
                self.lines.setdefault((*table, *self._split(key.group(1))), number)

    @staticmethod
    def _split(dotted: str) -> list[str]:
        return [part.strip().strip("\"'") for part in dotted.split(".")]

    def line_of(self, path: Sequence[str | int]) -> int | None:
        key = tuple(path)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return None


class LoadedConfig(msgspec.Struct, frozen=True):
    config: PluginsConfig
    file: str
    index: LineIndex | None

    def problem(self, path: Sequence[str | int], message: str) -> Problem:
        line = self.index.line_of(path) if self.index else None
        return Problem(key=format_key(path), message=message, file=self.file, line=line)


_MSGSPEC_PATH = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_PATH_PART = re.compile(r"\.([A-Za-z0-9_\-]+)|\[(\d+)\]|\[\"?'?([^\]\"']+)\"?'?\]")


def path_of_validation_error(error: msgspec.ValidationError) -> tuple[KeyPath, str]:
    """Split msgspec's ``"Expected `str`, got `int` - at `$.a[0].b`"`` into path and text."""
    match = _MSGSPEC_PATH.match(str(error))
    assert match is not None
    path: list[str | int] = []
    for name, index, quoted in _PATH_PART.findall(match.group("path") or ""):
        path.append(int(index) if index else (name or quoted))
    message = match.group("message")
    unknown = re.search(r"unknown field `([^`]+)`", message)
    if unknown:
        path.append(unknown.group(1))
        message = "unknown key (check the spelling; see docs/ops.md for the keys)"
    return tuple(path), message


class ConfigFileError(Exception):
    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = list(problems)


def load_config(path: Path, *, required: bool = False) -> LoadedConfig:
    """Read and validate the shape of plugins.toml. A missing file is an empty configuration
    unless ``required`` (the operator named it explicitly)."""
    name = str(path)
    if not path.exists():
        if required:
            raise ConfigFileError(
                [Problem("", "no such file (--plugins-file or BOXOFFICE_PLUGINS_FILE)", file=name)]
            )
        return LoadedConfig(config=PluginsConfig(), file=name, index=None)
    text = path.read_text(encoding="utf-8")
    return parse_config(text, name)


def parse_config(text: str, name: str = "plugins.toml") -> LoadedConfig:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        line = re.search(r"line (\d+)", str(error))
        raise ConfigFileError(
            [
                Problem(
                    "",
                    f"not valid TOML: {error}",
                    file=name,
                    line=int(line.group(1)) if line else None,
                )
            ]
        ) from error
    index = LineIndex(text)
    problems = [
        Problem(format_key(key), message, file=name, line=index.line_of(key))
        for key, message in _shape_problems(raw)
    ]
    if problems:
        raise ConfigFileError(problems)
    return LoadedConfig(config=msgspec.convert(raw, PluginsConfig), file=name, index=index)


def _shape_problems(raw: dict[str, Any]) -> list[tuple[KeyPath, str]]:
    """Every shape problem, not only the first: msgspec stops at the first error, so each
    table (and each routing rule) is converted on its own."""
    fields = {field.name: field.type for field in msgspec.structs.fields(PluginsConfig)}
    parts: list[tuple[KeyPath, Any, Any]] = []
    for key, value in raw.items():
        if key not in fields:
            parts.append(((), {key: value}, PluginsConfig))
        elif key == "routing" and isinstance(value, dict):
            for kind, rules in value.items():
                rule_type = RULE_TYPES.get(kind)
                if rule_type is not None and isinstance(rules, list):
                    parts.extend(
                        (("routing", kind, i), rule, rule_type) for i, rule in enumerate(rules)
                    )
                else:
                    parts.append((("routing",), {kind: rules}, RoutingSection))
        else:
            parts.append(((key,), value, fields[key]))
    found: list[tuple[KeyPath, str]] = []
    for base, value, expected in parts:
        try:
            msgspec.convert(value, expected)
        except msgspec.ValidationError as error:
            path, message = path_of_validation_error(error)
            found.append(((*base, *path), message))
    return found


def resolve_secrets(
    value: Any, path: KeyPath, environ: Mapping[str, str], problems: list[tuple[KeyPath, str]]
) -> Any:
    """Replace ``"env:NAME"`` strings by the environment's value; record each missing one."""
    if isinstance(value, str) and value.startswith(ENV_PREFIX):
        name = value[len(ENV_PREFIX) :]
        if name not in environ:
            problems.append((path, f"environment variable {name} is not set"))
            return ""
        return environ[name]
    if isinstance(value, dict):
        return {k: resolve_secrets(v, (*path, k), environ, problems) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_secrets(v, (*path, i), environ, problems) for i, v in enumerate(value)]
    return value


def default_environ() -> Mapping[str, str]:
    return os.environ
