"""Build the reference of the public plugin surface from its docstrings (pdoc, HTML).

``python -m mdi.apidocs OUT_DIR`` writes one page per public module. A test builds it on every
run (so a docstring or signature that pdoc cannot render fails CI, and the reference cannot
drift from the code); publish ``OUT_DIR`` wherever the docs live. pdoc is a dev dependency.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mdi.apisurface import PYTEST_PLUGIN, TESTING

MODULES = ["mdi.api", "mdi.hookspecs", "mdi.connector", "mdi.components", "mdi.events", "mdi.dedup",
           "mdi.testing", "mdi.testing.sim", PYTEST_PLUGIN, *TESTING]


def build(out_dir: Path) -> list[Path]:
    """Render every public module into ``out_dir``; returns the pages written."""
    import pdoc
    import pdoc.render

    pdoc.render.configure(docformat="restructuredtext", show_source=False, search=True)
    pdoc.pdoc(*MODULES, output_directory=out_dir)
    return sorted(out_dir.rglob("*.html"))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m mdi.apidocs OUT_DIR", file=sys.stderr)
        return 2
    pages = build(Path(args[0]))
    print(f"wrote {len(pages)} pages to {args[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
