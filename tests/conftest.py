"""boxoffice's own suite uses the same harness plugin authors get (boxoffice.plugins.testing).

It is loaded here rather than through its pytest11 entry point (disabled in pyproject's
addopts) so that coverage measurement starts before boxoffice is first imported.
"""

from __future__ import annotations

pytest_plugins = ["boxoffice.plugins.testing"]
