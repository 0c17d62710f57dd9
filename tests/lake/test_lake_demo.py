"""The issue's done-when, on a lake recorded by a real `mdi demo`: verify is clean; a planted
duplicate seq, stray .tmp and deleted file are each named; compact leaves the same rows in fewer
files; the report renders its charts in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from mdi_parquet.layout import parse_part, part_name
from lake_support import all_rows, copy_lake, data_files, mdi, mdi_process, record_demo


@pytest.fixture(scope="module")
def demo_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return record_demo(tmp_path_factory.mktemp("demo"))


def test_demo_lake_verifies_clean(demo_lake: Path) -> None:
    result = mdi_process("lake", "verify", str(demo_lake))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith(": clean")


def test_verify_names_a_duplicate_a_stray_tmp_and_a_deleted_file(demo_lake: Path, tmp_path: Path) -> None:
    lake = copy_lake(demo_lake, tmp_path / "lake")
    bbo = sorted(lake.glob("v1/bbo/*/*/*.parquet"), key=lambda p: parse_part(p.name)[1])  # type: ignore[index]
    assert len(bbo) >= 4, bbo
    deleted, duplicated = bbo[1], bbo[-2]
    deleted.unlink()
    instance, first, last = parse_part(duplicated.name)  # type: ignore[misc]
    copy = duplicated.with_name(part_name(instance, first, last, 1))  # the writer's name when a name is taken
    shutil.copy(duplicated, copy)
    stray = lake / "v1" / "trade" / bbo[0].parent.parent.name / bbo[0].parent.name / "part-99-99.parquet.tmp"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"PAR1 half a file")

    code, out = mdi("lake", "verify", str(lake), "--json")
    assert code == 1, out
    problems = json.loads(out)["problems"]
    kinds = {p["kind"] for p in problems}
    assert {"duplicate_seq", "stray_tmp", "missing_seq"} <= kinds, problems
    text = "\n".join(p["message"] for p in problems)
    assert str(stray.relative_to(lake)) in text
    assert copy.name in text and duplicated.name in text
    assert f"deleted file bbo/.../{deleted.name}" in text  # the hole's ends name the deleted file
    code, plain = mdi("lake", "verify", str(lake))
    assert code == 1 and f"{len(problems)} problem(s)" in plain


def test_compact_keeps_every_row_in_fewer_files_and_is_idempotent(demo_lake: Path, tmp_path: Path) -> None:
    lake = copy_lake(demo_lake, tmp_path / "lake")
    before_rows, before_files = all_rows(lake), data_files(lake)
    old_bbo = next(p for p in before_files if p.parent.parent.parent.name == "bbo")
    first, old_schema = pq.read_metadata(old_bbo).metadata, pq.ParquetFile(old_bbo).schema_arrow.remove_metadata()
    code, out = mdi("lake", "compact", str(lake), "--include-open", "--stats")
    assert code == 0, out
    assert re.search(r"[\d,]+ rows/s", out)
    after_files = data_files(lake)
    assert len(after_files) < len(before_files)
    assert len(after_files) == len({p.parent for p in after_files})  # one file per partition now
    assert all_rows(lake) == before_rows  # same rows, exact values, none twice
    # the bbo partition with the most files (a demo run may straddle an hour boundary)
    busiest = max({p.parent for p in before_files if p.parent.parent.parent.name == "bbo"}, key=lambda d: sum(f.parent == d for f in before_files))
    merged = next(p for p in after_files if p.parent == busiest)
    meta = pq.read_metadata(merged).metadata
    assert set(meta) == set(first) | {b"mdi.compacted_from"}
    assert int(meta[b"mdi.compacted_from"]) == sum(f.parent == busiest for f in before_files) > 1
    assert int(meta[b"mdi.rows"]) == pq.read_metadata(merged).num_rows
    assert pq.ParquetFile(merged).schema_arrow.remove_metadata() == old_schema
    assert mdi("lake", "verify", str(lake))[0] == 0  # heads re-pointed, nothing left in _compact
    code, again = mdi("lake", "compact", str(lake), "--include-open")
    assert code == 0 and "0 files -> 0" in again
    assert data_files(lake) == after_files


def test_compact_leaves_open_partitions_alone_by_default(demo_lake: Path, tmp_path: Path) -> None:
    lake = copy_lake(demo_lake, tmp_path / "lake")
    before = data_files(lake)
    code, out = mdi("lake", "compact", str(lake))
    assert code == 0 and "compacted 0 partition(s)" in out
    assert data_files(lake) == before


def test_stats_and_query_agree_with_duckdb(demo_lake: Path, tmp_path: Path) -> None:
    code, out = mdi("lake", "stats", str(demo_lake), "--json")
    assert code == 0, out
    rows = {(r["stream"], r["venue"]): r["rows"] for r in json.loads(out)["streams"]}
    con = duckdb.connect()
    direct = con.execute(f"SELECT venue, count(*) FROM read_parquet('{demo_lake}/v1/bbo/**/*.parquet') GROUP BY 1").fetchall()
    assert {v: n for v, n in direct} == {v: n for (s, v), n in rows.items() if s == "bbo"}

    sql = "SELECT seq, venue, bid_px FROM bbo ORDER BY seq"
    expected = con.execute(f"SELECT seq, venue, bid_px::VARCHAR FROM read_parquet('{demo_lake}/v1/bbo/**/*.parquet') ORDER BY seq").fetchall()
    code, lines = mdi("lake", "query", str(demo_lake), sql, "--format", "json")
    assert code == 0, lines
    got = [json.loads(line) for line in lines.splitlines()]
    assert [(r["seq"], r["venue"], r["bid_px"]) for r in got] == [tuple(e) for e in expected]  # exact decimals
    code, csv = mdi("lake", "query", str(demo_lake), sql, "--format", "csv")
    assert code == 0 and csv.splitlines()[0] == '"seq","venue","bid_px"' and len(csv.splitlines()) == len(expected) + 1
    out_file = tmp_path / "q.parquet"
    code, _ = mdi("lake", "query", str(demo_lake), "SELECT * FROM trade", "--format", "parquet", "--out", str(out_file))
    assert code == 0
    assert con.execute(f"SELECT count(*) FROM '{out_file}'").fetchone() == con.execute(f"SELECT count(*) FROM read_parquet('{demo_lake}/v1/trade/**/*.parquet')").fetchone()
    code, table = mdi("lake", "query", str(demo_lake), "SELECT count(*) AS n, max(hour) AS h FROM spot_mid_1s")
    assert code == 0 and table.splitlines()[0].split() == ["n", "h"]


def test_report_renders_every_chart_in_headless_chromium(demo_lake: Path, tmp_path: Path) -> None:
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium package is needed (apt-get install chromium)"
    report = tmp_path / "report.html"
    code, out = mdi("lake", "report", str(demo_lake), "--out", str(report))
    assert code == 0, out
    html = report.read_text()
    assert "<script src=" not in html  # self-contained: plotly.js is inlined
    result = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         "--virtual-time-budget=10000", "--dump-dom", report.as_uri()],
        capture_output=True, text=True, timeout=90,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    charts = dom.count('class="plot-container plotly"')
    assert charts == 5, charts
    assert dom.count('<svg class="main-svg"') >= 2 * charts  # plotly draws two SVG layers per chart
    for title in ("Coverage per venue", "Rows per hour per stream", "Spot mid", "IV smile per expiry", "ATM IV term structure"):
        assert title in dom, title
    assert dom.count('class="trace bars"') >= 8  # one bar trace per stream
    assert len(re.findall(r'class="js-line"', dom)) >= 10  # coverage spans, mids, smiles, term structure
