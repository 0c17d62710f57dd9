"""``[journal]``: on in the shipped config, off by default, and every bad value a clear error that
names the section and the fix (``mdi config check`` exits 2 with it, no traceback)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mdi.config import ConfigError, load_config, parse_config
from mdi.journal import JournalConfig

REPO = Path(__file__).resolve().parents[2]


def test_shipped_config_enables_the_journal_with_a_group_commit_of_at_most_0_1_s() -> None:
    journal = load_config(REPO / "config.toml").journal
    assert journal.enabled and journal.fsync_interval <= 0.1
    assert not JournalConfig().enabled and JournalConfig().fsync_interval <= 0.1


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("fsync_interval = 0", "Expected `float` > 0.0 - at `journal.fsync_interval`"),
        ("segment_bytes = 1000", "at `journal.segment_bytes`"),
        ("max_bytes = 200000\nsegment_bytes = 150000", "max_bytes must be at least 2 * segment_bytes"),
        ('root = ""', "root must be a directory path"),
        ("fsync = 0.1", "unknown field `fsync` - at `journal`"),
    ],
)
def test_bad_values_name_the_key(body: str, says: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(f"[journal]\n{body}\n", "c.toml")
    assert says in str(info.value)


def test_config_check_exits_2_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[journal]\nenabled = true\nmax_pending_bytes = -1\n")
    done = subprocess.run([str(Path(sys.executable).with_name("mdi")), "config", "check", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "journal.max_pending_bytes" in done.stderr and "Traceback" not in done.stderr
