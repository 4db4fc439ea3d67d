"""Dependencies the controllers ask for by name."""

from __future__ import annotations

from litestar.datastructures import State

from boxoffice.platform import Platform


def platform_of(state: State) -> Platform:
    platform: Platform = state["platform"]
    return platform
