"""The crash tests reuse the benchmark's venue process (``bench.simproc``, at the repository
root, not in an installed source root): make it importable, as tests/bench/conftest.py does."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
