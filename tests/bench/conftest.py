"""The benchmark package lives at the repository root (``bench/``), not in an installed source
root: make it importable for these tests, as ``python -m bench`` run from the root does."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
