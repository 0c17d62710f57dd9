"""The lake tools on synthetic lakes of past hours written by the real Parquet writer: readers
during a compaction, coverage holes, retention, optional dependencies, object-storage mode."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from lake_support import DAY0, HOUR_NS, all_rows, data_files, mdi, plant_gap, write_lake
from mdi_lake.lakefs import open_lake
from mdi_lake.query import run


def test_readers_during_compaction_never_see_a_row_twice_or_miss_one(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    total = write_lake(lake, hours=4, flushes_per_hour=5, rows_per_flush=20)
    sql = "SELECT count(*), count(DISTINCT seq) FROM read_parquet('{}/v1/*/*/*/*.parquet')".format(lake)
    results: dict[str, list[tuple[int, int]]] = {"mdi": [], "glob": []}
    errors: dict[str, list[str]] = {"mdi": [], "glob": []}
    running = threading.Event()
    done = threading.Event()

    def mdi_reader() -> None:
        handle = open_lake(str(lake))
        while not done.is_set():
            table = run(handle, "SELECT (SELECT count(*) FROM bbo) + (SELECT count(*) FROM trade) + (SELECT count(*) FROM status) AS n, "
                        "(SELECT count(DISTINCT seq) FROM (SELECT seq FROM bbo UNION ALL SELECT seq FROM trade UNION ALL SELECT seq FROM status)) AS d")
            row = table.to_pylist()[0]
            if running.is_set():
                results["mdi"].append((row["n"], row["d"]))

    def glob_reader() -> None:
        con = duckdb.connect()
        while not done.is_set():
            try:
                row = con.execute(sql).fetchone()
            except duckdb.IOException as exc:  # listed before the swap, opened after: documented
                errors["glob"].append(str(exc))
                continue
            if running.is_set() and row is not None:
                results["glob"].append((row[0], row[1]))

    threads = [threading.Thread(target=mdi_reader), threading.Thread(target=glob_reader)]
    for t in threads:
        t.start()
    proc = subprocess.Popen([sys.executable, "-m", "mdi.cli", "lake", "compact", str(lake)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "MDI_LOAD_PLUGINS": "lake"})
    running.set()
    out, err = proc.communicate(timeout=120)
    deadline = time.monotonic() + 60  # let each reader finish one read after the last swap
    count = {k: len(v) for k, v in results.items()}
    while time.monotonic() < deadline and any(len(results[k]) <= count[k] for k in results):
        time.sleep(0.05)
    done.set()
    for t in threads:
        t.join(timeout=60)
    assert proc.returncode == 0, err
    assert "9 partition(s)" in out  # 4 hours x (bbo, trade) + the status partition
    assert results["mdi"] and results["glob"]
    assert set(results["mdi"]) == {(total, total)}
    assert set(results["glob"]) == {(total, total)}
    assert all("No such file" in e for e in errors["glob"]), errors["glob"][:3]
    assert len(data_files(lake)) == 9


def test_verify_reports_gaps_outages_and_silences(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    total = write_lake(lake, hours=1)
    assert mdi("lake", "verify", str(lake))[0] == 0
    plant_gap(lake, total + 1)
    code, out = mdi("lake", "verify", str(lake), "--json", "--max-silence", "60")
    assert code == 1
    problems = json.loads(out)["problems"]
    assert [p["kind"] for p in problems] == ["venue_gap"], problems
    assert "coinbase BTC-USD channel market_trades skipped" in problems[0]["message"] and "expected 10, received 13" in problems[0]["message"]
    # rows of one partition are 18 s apart: a tighter allowed silence makes them silent spans
    code, out = mdi("lake", "verify", str(lake), "--json", "--max-silence", "10")
    silences = [p for p in json.loads(out)["problems"] if p["kind"] == "silence"]
    assert {p["message"].split(" is silent")[0] for p in silences} == {
        "stream bbo from kraken", "stream bbo from coinbase", "stream trade from kraken", "stream trade from coinbase"}


def test_verify_reports_an_outage_from_status_rows(tmp_path: Path) -> None:
    from mdi.events import ConnectionStatus, stamp_seq
    from mdi_parquet.schema import Scales
    from mdi_parquet.writer import LakeWriter

    lake = tmp_path / "lake"
    total = write_lake(lake, hours=1)
    writer = LakeWriter(lake, Scales(), 3, time.time_ns, instance="rec-a")
    writer.recover()
    events = [
        ConnectionStatus(venue="kraken", symbol="*", ts_recv=DAY0 + HOUR_NS // 4, state="stale", detail="no data for 30 s"),
        ConnectionStatus(venue="kraken", symbol="*", ts_recv=DAY0 + HOUR_NS // 4 + 45 * 10**9, state="subscribed"),
    ]
    for i, e in enumerate(events):
        stamp_seq(e, total + 1 + i)
    writer.commit(writer.build({ConnectionStatus: events}).files)
    code, out = mdi("lake", "verify", str(lake))
    assert code == 1
    assert "outage: kraken was not live from 2024-05-27T00:15:00.000Z to 2024-05-27T00:15:45.000Z (45.0 s, stale: no data for 30 s)" in out


def test_prune_dry_run_lists_and_prune_deletes_whole_old_hours(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    write_lake(lake, hours=3)
    before = data_files(lake)
    code, out = mdi("lake", "prune", str(lake), "--before", "2024-05-27T02:00:00Z", "--dry-run")
    assert code == 0 and "would delete 5 partition(s)" in out  # hours 00 and 01 of bbo and trade, and status
    assert data_files(lake) == before
    code, out = mdi("lake", "prune", str(lake), "--before", "2024-05-27T02:00:00Z")
    assert code == 0 and "deleted 5 partition(s)" in out
    left = data_files(lake)
    assert left and {p.parent.name for p in left} == {"hour=02"}
    assert not (lake / "v1" / "bbo" / "date=2024-05-27" / "hour=00").exists()
    assert mdi("lake", "prune", str(lake), "--before", "yesterday")[0] == 2


def test_replace_mode_compacts_like_the_exchange(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    write_lake(lake, hours=2)
    before = all_rows(lake)
    code, out = mdi("lake", "compact", str(lake), "--mode", "replace")
    assert code == 0 and "compacted 5 partition(s)" in out, out
    assert all_rows(lake) == before
    assert len(data_files(lake)) == 5
    assert mdi("lake", "verify", str(lake))[0] == 0


def test_query_and_report_name_the_missing_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lake = tmp_path / "lake"
    write_lake(lake, hours=1)
    monkeypatch.setitem(sys.modules, "duckdb", None)  # as if the optional extra were not installed
    code, out = mdi("lake", "query", str(lake), "SELECT 1")
    assert code == 1 and "needs DuckDB: pip install 'md-ingest[lake]'" in out
    monkeypatch.setitem(sys.modules, "plotly", None)
    monkeypatch.setitem(sys.modules, "plotly.graph_objects", None)
    code, out = mdi("lake", "report", str(lake), "--out", str(tmp_path / "r.html"))
    assert code == 1 and "pip install 'md-ingest[lake]'" in out


def test_a_lake_behind_a_non_local_filesystem_works_like_object_storage(tmp_path: Path) -> None:
    """Through a pyarrow filesystem that is not LocalFileSystem (as s3:// is), the tools use only
    pyarrow.fs calls: no rename, no directory exchange, no flock; compaction picks `replace`."""
    import pyarrow.fs as pafs

    from mdi_lake.catalog import scan
    from mdi_lake.compact import Settings, compact
    from mdi_lake.lakefs import Lake
    from mdi_lake.stats import lake_stats
    from mdi_lake.verify import verify

    write_lake(tmp_path / "lake", hours=2)
    before = all_rows(tmp_path / "lake")
    lake = Lake(fs=pafs.SubTreeFileSystem(str(tmp_path), pafs.LocalFileSystem()), root="lake", uri="subtree://lake")
    assert not lake.local
    stats, unreadable = lake_stats(lake, scan(lake))
    assert not unreadable and sum(r.rows for r in stats) == sum(len(v) for v in before.values())
    assert verify(lake, scan(lake), max_silence_s=60).problems == []
    result = compact(lake, Settings())
    assert (result.partitions, result.failed) == (5, 0)
    assert all_rows(tmp_path / "lake") == before
    assert len(data_files(tmp_path / "lake")) == 5
    assert verify(lake, scan(lake), max_silence_s=60).problems == []
    assert run(lake, "SELECT count(*) AS n FROM bbo").to_pylist() == [{"n": len(before["bbo"])}]


def _as_instance(src: Path, dst_root: Path, instance: str) -> None:
    """Copy a lake's files into ``dst_root`` as written by ``instance`` (column, footer, name):
    each recorder numbers its own events, so two instances' files span the same seq."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mdi_parquet.layout import parse_part, part_name

    for path in data_files(src):
        table = pq.read_table(path)
        meta = {**table.schema.metadata, b"mdi.instance": instance.encode()}
        column = pa.array([instance] * table.num_rows, pa.string()).dictionary_encode()
        table = table.set_column(table.column_names.index("instance"), table.schema.field("instance").with_type(column.type), column)
        parsed = parse_part(path.name)
        assert parsed is not None
        target = dst_root / path.relative_to(src).with_name(part_name(instance, parsed[1], parsed[2]))
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table.replace_schema_metadata(meta), target)


def test_sequence_numbers_are_judged_and_files_merged_per_instance(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    write_lake(tmp_path / "one", hours=1)
    lake = tmp_path / "lake"
    _as_instance(tmp_path / "one", lake, "rec-a")
    _as_instance(tmp_path / "one", lake, "rec-b")  # the same numbers, another recorder
    code, out = mdi("lake", "verify", str(lake))
    assert code == 0, out  # equal seq in two instances is no duplicate
    rows = sorted((r["instance"], r["seq"]) for f in data_files(lake) for r in pq.read_table(f, columns=["instance", "seq"]).to_pylist())
    code, out = mdi("lake", "compact", str(lake))
    assert code == 0 and "compacted 3 partition(s)" in out, out
    after = data_files(lake)
    assert len(after) == 6  # bbo, trade, status: one file per instance each
    for f in after:
        assert len(set(pq.read_table(f, columns=["instance"]).column("instance").to_pylist())) == 1, f
    assert sorted((r["instance"], r["seq"]) for f in after for r in pq.read_table(f, columns=["instance", "seq"]).to_pylist()) == rows
    assert mdi("lake", "verify", str(lake))[0] == 0
    dup = next(f for f in after if f.parent.parent.parent.name == "bbo")
    (dup.parent / "part-1-1-9.parquet").write_bytes(dup.read_bytes())  # one instance's rows twice
    code, out = mdi("lake", "verify", str(lake))
    assert code == 1 and "duplicate_seq" in out and "of instance rec-" in out
