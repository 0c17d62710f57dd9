"""Done-when of the journal, with real processes: ``mdi run`` under load on the four venue
simulators, killed with SIGKILL, its journal's tail half-written on purpose, restarted on the
same lake and journal, stopped with SIGTERM; then every row is counted.

- no sequence number is in the lake twice;
- every number published to Redis by the killed run is, in the lake, that run's event (never a
  new event of the restarted run), and the restarted run's numbers are above all of them;
- what the killed run published and the lake lacks was routed within the last ``fsync_interval``
  (plus one commit, allowed :data:`SLACK` on a loaded machine), in every stream, slow ones too
  (Parquet's ``flush_interval`` is the shipped 60 s, so they were only in the journal);
- the half-written record is dropped and counted; recovered rows are in /metrics;
- after the clean stop only the restarted run's segment is left (the recovered ones released);
- the SIGTERM-stopped run loses nothing it published."""

from __future__ import annotations

import os
import time
from pathlib import Path

from bench.full import Child
from mdi.journal.format import encode_batch
from mdi.testing.redis_server import RedisServer

from crash_support import MdiRun, PubSubRecorder, crash_config, lake_rows, wait_for
from journal_support import batch

FSYNC = 0.05
SLACK = 0.5  # one group commit's write + fsync on a loaded 2-core machine, generously
BLAST_RATE = 15_000  # Kraken events/s offered; the other venues stream at demo rates
SLOW_KINDS = {"mark_price", "dvol", "spot_mid", "iv_surface"}  # Redis key kinds of the slow streams


def test_kill_9_under_load_then_restart_loses_at_most_fsync_interval_and_reuses_no_seq(tmp_path: Path) -> None:
    lake, journal = tmp_path / "lake", tmp_path / "journal"
    with RedisServer() as server:
        recorder = PubSubRecorder(server.client()).start()
        sim = Child("simulators", ["-m", "bench.simproc", "--background-rate", "50"], tmp_path / "sim.log")
        try:
            config = tmp_path / "config.toml"
            config.write_text(crash_config(sim.next(60)["urls"], lake, journal, server.url, FSYNC))
            first = MdiRun(config, tmp_path / "run1.log")
            first.wait_live()
            sim.request(f"blast {BLAST_RATE}", timeout=60)
            blast_start = time.monotonic()
            wait_for(lambda: SLOW_KINDS <= recorder.kinds() and time.monotonic() - blast_start > 4, 60,
                     "4 s of load and a notification of every slow stream")
            killed_at = time.monotonic()
            first.kill()
            sim.request("stop", timeout=60)
            torn = tear_the_tail(journal)

            restarted_ns = time.time_ns()
            second = MdiRun(config, tmp_path / "run2.log")
            second.wait_live()
            recovered = second.metric("mdi_sink_recovered_rows_total")
            assert recovered > 0
            assert second.metric("mdi_sink_torn_bytes_total") == torn
            print(f"recovered {recovered:.0f} rows in {second.metric('mdi_sink_recovery_seconds'):.3f} s")
            published_before = [p for p in recorder.seen if p.at < killed_at]
            high_before = max(p.seq for p in published_before)
            live_at = time.monotonic()
            wait_for(lambda: SLOW_KINDS <= recorder.kinds(after=live_at), 60, "the restarted run publishing every slow stream")
            assert second.stop() == 0
            recorder.stop()
            # the killed run's segment went once its events were in the lake; the new one stays
            assert [p.name for p in journal.glob("wal-*.seg")] == ["wal-0000000002.seg"]
        finally:
            sim.close()
    check_lake(lake, published_before, recorder, killed_at, restarted_ns, high_before)


def tear_the_tail(journal: Path) -> int:
    """Append the first half of a record to the newest segment, as a power cut mid-write does."""
    newest = sorted(journal.glob("wal-*.seg"))[-1]
    half = encode_batch(batch(10**15, 20))[:300]
    with newest.open("ab") as f:
        f.write(half)
        os.fsync(f.fileno())
    return len(half)


def check_lake(lake: Path, before: list, recorder: PubSubRecorder, killed_at: float, restarted_ns: int, high: int) -> None:
    rows = lake_rows(lake)
    seqs = [seq for _, seq, _ in rows]
    assert len(seqs) == len(set(seqs)), "a sequence number is in the lake twice"
    by_seq = {seq: (stream, ts) for stream, seq, ts in rows}

    # no number a consumer saw is reused: each is the killed run's event, or lost (never another)
    reused = [p for p in before if p.seq in by_seq and by_seq[p.seq][1] >= restarted_ns]
    assert not reused, f"seqs published by the killed run given to new events: {reused[:5]}"
    new_seqs = [seq for _, seq, ts in rows if ts >= restarted_ns]
    assert new_seqs and min(new_seqs) > high

    # bounded loss, per stream: what is missing was published in the last fsync_interval (+ slack)
    missing = [p for p in before if p.seq not in by_seq]
    too_old = [p for p in missing if p.at < killed_at - FSYNC - SLACK]
    oldest_missing = max((killed_at - p.at for p in missing), default=0.0)
    print(f"killed run: {len(before)} notifications, {len(missing)} of their events not in the lake, "
          f"the oldest published {oldest_missing:.3f} s before the kill; lake rows {len(rows)}")  # -s shows it
    assert not too_old, f"{len(too_old)} published events older than the loss bound are not in the lake: {too_old[:5]}"
    kept = {p.key.split(":")[2] for p in before if p.seq in by_seq}
    assert SLOW_KINDS | {"spot_bbo", "trade"} <= kept
    killed_run_streams = {stream for stream, _, ts in rows if ts < restarted_ns}
    assert {"option_ticker", "status", "mark_price", "vol_index", "spot_mid_1s", "iv_surface_snapshot"} <= killed_run_streams

    # SIGTERM loses nothing: every number the restarted run published is in the lake
    # (told apart by number, not by when the notification arrived: the killed run's last ones can
    # reach the recorder after the kill, and those may be lost within the bound above)
    after = [p for p in recorder.seen if p.seq >= min(new_seqs)]
    assert after and all(p.seq in by_seq for p in after)
