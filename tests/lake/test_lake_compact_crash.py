"""Compaction killed with SIGKILL at every step, on local disk (directory exchange) and with the
object-storage protocol (replace): the next run finishes or undoes it, and the lake ends with
every row exactly once, values unchanged, nothing left under _compact/."""

from __future__ import annotations

import signal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lake_support import all_rows, data_files, mdi, mdi_process, write_lake
from mdi_lake.compact import CRASH_ENV

STEPS = {
    "exchange": ["outputs_written", "intent_written", "swapped", "moved_back"],
    "replace": ["intent_written", "outputs_written", "inputs_deleted"],
}
CASES = [(mode, step) for mode, steps in STEPS.items() for step in steps]


def seqs(root: Path) -> list[int]:
    return sorted(s for f in data_files(root) for s in pq.read_table(f, columns=["seq"]).column("seq").to_pylist())


@pytest.mark.parametrize(("mode", "step"), CASES)
def test_kill_mid_compaction_loses_and_duplicates_nothing(tmp_path: Path, mode: str, step: str) -> None:
    lake = tmp_path / "lake"
    total = write_lake(lake, hours=2)
    before = all_rows(lake)
    killed = mdi_process("lake", "compact", str(lake), "--mode", mode, env={CRASH_ENV: step})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    if mode == "exchange":
        assert seqs(lake) == list(range(1, total + 1))  # a glob reader sees each row once even now
    code, out = mdi("lake", "compact", str(lake), "--mode", mode)
    assert code == 0, out
    assert "recovered" in out
    assert all_rows(lake) == before
    assert seqs(lake) == list(range(1, total + 1))
    assert not [p for p in (lake / "_compact").rglob("*") if p.is_file()]
    code, verdict = mdi("lake", "verify", str(lake))
    assert code == 0, verdict
    assert len(data_files(lake)) < 2 * 2 * 4 + 2  # every partition got compacted in the end


def test_a_file_that_reached_the_old_directory_late_is_kept(tmp_path: Path) -> None:
    """A recorder's late flush landing in the partition just before the swap ends up in the old
    directory; finishing the compaction moves it into the live one."""
    lake = tmp_path / "lake"
    write_lake(lake, hours=1)
    killed = mdi_process("lake", "compact", str(lake), "--mode", "exchange", env={CRASH_ENV: "swapped"})
    assert killed.returncode == -signal.SIGKILL
    partition = next(p for p in (lake / "_compact" / "v1" / "bbo").glob("date=*/hour=*") if p.is_dir())
    late_src = next(p for p in partition.glob("*.parquet"))
    late = partition / "part-900000-900001.parquet"  # as if written after planning
    table = pq.read_table(late_src)
    meta = {**table.schema.metadata, b"mdi.first_seq": b"900000", b"mdi.last_seq": b"900001", b"mdi.rows": b"2"}
    rows = table.slice(0, 2).set_column(0, "seq", pa.array([900000, 900001], pa.int64()))
    pq.write_table(rows.replace_schema_metadata(meta), late)
    code, out = mdi("lake", "compact", str(lake))
    assert code == 0, out
    live = lake / partition.relative_to(lake / "_compact")
    assert not partition.exists()
    live_seqs = [s for f in live.glob("*.parquet") for s in pq.read_table(f).column("seq").to_pylist()]
    assert {900000, 900001} <= set(live_seqs)  # moved back, then merged with the rest
    assert len(live_seqs) == len(set(live_seqs))


def test_compact_refuses_bad_arguments_with_exit_2(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    write_lake(lake, hours=1)
    for args, message in [
        (["--older-than", "soon"], "is not a duration"),
        (["--mode", "swap"], "use auto, exchange or replace"),
    ]:
        result = mdi_process("lake", "compact", str(lake), *args)
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    missing = mdi_process("lake", "verify", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "no lake at" in missing.stderr and "Traceback" not in missing.stderr
