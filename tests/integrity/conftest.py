"""The SIGTERM fault test drives the benchmark's blaster (``bench/`` at the repository root, not
an installed source root): make it importable, as ``python -m bench`` run from the root does."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
