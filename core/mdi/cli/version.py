"""``mdi --version``: mdi's own version and the version of every plugin found.

A bug report needs both: a lake written by ``mdi 0.2`` with ``mdi-okx 1.4`` is not the same lake as
one written with ``mdi-okx 1.3``. Broken plugins are listed too, with their status.
"""

from __future__ import annotations

from collections.abc import Iterable

import mdi
from mdi.plugins import PluginRecord


def version_lines(plugins: Iterable[PluginRecord]) -> list[str]:
    """``mdi X.Y.Z`` then one line per plugin: name, distribution and version, status if not ok."""
    lines = [f"mdi {mdi.__version__}"]
    for p in sorted(plugins, key=lambda p: p.name):
        status = "" if p.status == "ok" else f"  [{p.status}]"
        lines.append(f"  {p.name:<14} {p.distribution} {p.version}{status}")
    return lines
