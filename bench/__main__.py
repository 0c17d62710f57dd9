"""``python -m bench``: the full-graph benchmark (see :mod:`bench.cli` and docs/performance.md)."""

from bench.cli import main

main()
