"""Start-up: the watermark comes back right after a clean stop, after a crash (a real process
killed at the worst moment), without an index, and across schema-version directories; crash
leftovers are removed and counted."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from parquet_support import INSTANCE, data_files, open_sink, read_stream, record, tmp_files, trades

from mdi_parquet.index import read_index
from mdi_parquet.layout import index_name
from mdi_parquet.store import LocalStore

INDEX_NAME = index_name(INSTANCE)

HERE = Path(__file__).resolve().parent


@pytest.mark.anyio
async def test_an_empty_lake_has_no_watermark(tmp_path: Path) -> None:
    _, stats, watermark = await open_sink(tmp_path / "lake")
    assert watermark is None
    assert "watermark" not in stats.gauges
    assert (tmp_path / "lake" / "v1" / INDEX_NAME).is_file()


@pytest.mark.anyio
async def test_watermark_after_clean_restarts(tmp_path: Path) -> None:
    await record(tmp_path, trades(150), buffer_rows=60)
    _, stats, watermark = await open_sink(tmp_path)
    assert watermark == 150 and stats.gauges["watermark"] == 150
    await record(tmp_path, trades(100, first_seq=151), buffer_rows=60)
    _, _, watermark = await open_sink(tmp_path)
    assert watermark == 250
    assert read_stream(tmp_path, "trade").column("seq").to_pylist() == list(range(1, 251))


@pytest.mark.anyio
async def test_without_an_index_a_full_scan_finds_the_watermark_and_cleans_everywhere(tmp_path: Path) -> None:
    await record(tmp_path, trades(3000), batch=500)  # two hour partitions
    (tmp_path / "v1" / INDEX_NAME).unlink()
    oldest = data_files(tmp_path)[0].parent
    (oldest / f"part-{INSTANCE}-7-9.parquet.tmp").write_bytes(b"half a file")
    (oldest / "part-other-7-9.parquet.tmp").write_bytes(b"another instance's, being written")
    sink, stats, watermark = await open_sink(tmp_path)
    assert watermark == 3000
    assert stats.counters["tmp_cleaned"] == 1  # only this instance's leftovers are its to remove
    assert [p.name for p in tmp_files(tmp_path)] == ["part-other-7-9.parquet.tmp"]
    index = read_index(LocalStore(tmp_path), "v1", INSTANCE)
    assert index is not None and index.heads["trade"].last_seq == 3000  # rewritten for next time


@pytest.mark.anyio
async def test_a_missing_head_file_falls_back_to_what_is_really_there(tmp_path: Path) -> None:
    await record(tmp_path, trades(200), buffer_rows=100)
    newest = max(data_files(tmp_path), key=lambda p: int(p.stem.split("-")[-1]))
    newest.unlink()  # someone deleted the newest file by hand
    _, _, watermark = await open_sink(tmp_path)
    assert watermark == 100


@pytest.mark.anyio
async def test_older_schema_versions_still_count(tmp_path: Path) -> None:
    await record(tmp_path, trades(150))
    (tmp_path / "v1").rename(tmp_path / "v0")  # as if written by an older schema version
    _, _, watermark = await open_sink(tmp_path)
    assert watermark == 150


CRASHING_SESSION = """
import os, sys
sys.path.insert(0, sys.argv[1])
import anyio
from pathlib import Path
from parquet_support import record, trades

real_replace, real_link, index_writes = os.replace, os.link, []

def replace(src, dst):
    name = os.fspath(src)
    if name.endswith(".json.tmp"):
        index_writes.append(name)
    if sys.argv[3] == "index" and len(index_writes) == 5:
        os._exit(17)  # the process dies: after fsync of the .tmp, before its rename
    real_replace(src, dst)

def link(src, dst):
    if sys.argv[3] == "data" and "-201-" in os.fspath(src):
        os._exit(17)  # the process dies: after fsync of the .tmp, before it gets its name
    real_link(src, dst)

os.replace, os.link = replace, link
anyio.run(lambda: record(Path(sys.argv[2]), trades(250), batch=50, buffer_rows=100))
"""


@pytest.mark.parametrize(
    ("crash_at", "watermark", "files"),
    [
        ("data", 200, 2),  # the last file never became visible
        ("index", 250, 3),  # every file is visible, the closing index update was lost
    ],
)
@pytest.mark.anyio
async def test_a_crash_leaves_only_tmp_files_which_the_next_start_removes(
    tmp_path: Path, crash_at: str, watermark: int, files: int
) -> None:
    code = textwrap.dedent(CRASHING_SESSION)
    done = subprocess.run([sys.executable, "-c", code, str(HERE), str(tmp_path), crash_at], timeout=60)
    assert done.returncode == 17
    assert len(tmp_files(tmp_path)) == 1  # the crash left a .tmp behind...
    _, stats, found = await open_sink(tmp_path)
    assert stats.counters["tmp_cleaned"] == 1 and tmp_files(tmp_path) == []  # ...and start-up removed it
    assert found == watermark
    assert len(data_files(tmp_path)) == files
    assert read_stream(tmp_path, "trade").column("seq").to_pylist() == list(range(1, watermark + 1))
