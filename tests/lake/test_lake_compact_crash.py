"""Compaction killed with SIGKILL at every step, on local disk (directory exchange) and with the
object-storage protocol (replace): the next run finishes or undoes it, and the lake ends with
every row exactly once, values unchanged, nothing left under _compact/."""

from __future__ import annotations

import signal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lake_support import all_rows, copy_lake, data_files, mdi, mdi_process, write_lake
from mdi_lake.compact import CRASH_ENV

STEPS = {
    "exchange": ["outputs_written", "intent_written", "swapped", "moved_back"],
    "replace": ["intent_written", "outputs_written", "inputs_deleted"],
}
CASES = [(mode, step) for mode, steps in STEPS.items() for step in steps]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    root = tmp_path_factory.mktemp("template") / "lake"
    return root, write_lake(root, hours=2)


def fresh(template: tuple[Path, int], tmp_path: Path) -> tuple[Path, int]:
    return copy_lake(template[0], tmp_path / "lake"), template[1]


def seqs(root: Path) -> list[int]:
    return sorted(s for f in data_files(root) for s in pq.read_table(f, columns=["seq"]).column("seq").to_pylist())


@pytest.mark.parametrize(("mode", "step"), CASES)
def test_kill_mid_compaction_loses_and_duplicates_nothing(template: tuple[Path, int], tmp_path: Path, mode: str, step: str) -> None:
    lake, total = fresh(template, tmp_path)
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
    assert not [p for p in (lake / "_compact").rglob("*") if p.is_file() and p.name != ".lock" and ".trash" not in p.parts]
    code, verdict = mdi("lake", "verify", str(lake))
    assert code == 0, verdict
    assert len(data_files(lake)) < 2 * 2 * 4 + 2  # every partition got compacted in the end


def test_a_file_that_reached_the_old_directory_late_is_kept(template: tuple[Path, int], tmp_path: Path) -> None:
    """A recorder's late flush landing in the partition just before the swap ends up in the old
    directory; finishing the compaction moves it into the live one."""
    lake, _ = fresh(template, tmp_path)
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


def test_compact_refuses_bad_arguments_with_exit_2(template: tuple[Path, int], tmp_path: Path) -> None:
    lake, _ = fresh(template, tmp_path)
    before = data_files(lake)
    for args, message in [
        (["--older-than", "soon"], "is not a duration"),
        (["--mode", "swap"], "use auto, exchange or replace"),
    ]:
        code, out = mdi("lake", "compact", str(lake), *args)
        assert code == 2 and message in out and "Traceback" not in out
    assert data_files(lake) == before
    missing = mdi_process("lake", "verify", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "no lake at" in missing.stderr and "Traceback" not in missing.stderr
