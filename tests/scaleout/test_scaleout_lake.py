"""The lake on object storage: create-only commits, one watermark per instance, outages held
and retried, and one query (DuckDB, pyarrow.dataset) over every instance's files.

All against a real S3-compatible server (moto) on loopback, through the sink's real client."""

from __future__ import annotations

from typing import Any

import logging

import anyio
import duckdb
import pyarrow.dataset as ds
import pytest
from parquet_support import config, open_sink, running_sink, trades, wait_until

from mdi.components import SinkContext
from mdi.stats import SinkStats
from mdi.testing.s3_server import S3Server
from mdi_parquet.s3 import S3Store, resolve_options
from mdi_parquet.sink import ParquetSink

FAST_RETRY = {"backoff_initial": 0.05, "backoff_max": 0.2, "flush_interval": 0.05}


def keys(server: S3Server, bucket: str, prefix: str = "lake/") -> list[str]:
    listing = server.client().list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for o in listing.get("Contents", []))


def parquet_keys(server: S3Server, bucket: str) -> list[str]:
    return [k for k in keys(server, bucket) if k.endswith(".parquet")]


def lake_count(server: S3Server, bucket: str) -> int:
    """The documented one-statement count over the whole lake, every instance and stream."""
    con = duckdb.connect()
    con.register_filesystem(server.s3fs())
    row = con.execute(
        f"SELECT count(*) FROM read_parquet('s3://{bucket}/lake/v1/*/*/*/*.parquet', union_by_name = true)"
    ).fetchone()
    assert row is not None
    return int(row[0])


async def record_s3(bucket: str, instance: str, events: list[Any], **overrides: Any) -> Any:
    async with running_sink(f"s3://{bucket}/lake", instance=instance, **overrides) as run:  # type: ignore[arg-type]
        for i in range(0, len(events), 100):
            await run.channel.put(events[i : i + 100])
    return run.stats


@pytest.mark.anyio
async def test_two_instances_share_a_bucket_each_with_its_own_names_watermark_and_column(
    s3_server: S3Server, bucket: str
) -> None:
    await record_s3(bucket, "shard-a", trades(300), buffer_rows=100)
    await record_s3(bucket, "shard-b", trades(120), buffer_rows=100)  # seqs 1..120 again: its own
    names = [k.rsplit("/", 1)[1] for k in parquet_keys(s3_server, bucket)]
    assert sorted(names) == sorted(
        ["part-shard-a-1-100.parquet", "part-shard-a-101-200.parquet", "part-shard-a-201-300.parquet",
         "part-shard-b-1-100.parquet", "part-shard-b-101-120.parquet"]
    )
    assert "lake/v1/_watermark-shard-a.json" in keys(s3_server, bucket)
    assert "lake/v1/_watermark-shard-b.json" in keys(s3_server, bucket)
    # Each instance resumes from its own watermark, not the other's.
    assert (await open_sink(f"s3://{bucket}/lake", instance="shard-a"))[2] == 300
    assert (await open_sink(f"s3://{bucket}/lake", instance="shard-b"))[2] == 120
    assert (await open_sink(f"s3://{bucket}/lake", instance="shard-c"))[2] is None

    con = duckdb.connect()
    con.register_filesystem(s3_server.s3fs())
    per_instance = con.execute(
        f"SELECT instance, count(*), count(DISTINCT seq), min(seq), max(seq) "
        f"FROM read_parquet('s3://{bucket}/lake/v1/trade/*/*/*.parquet', hive_partitioning = true) "
        f"GROUP BY instance ORDER BY instance"
    ).fetchall()
    assert per_instance == [("shard-a", 300, 300, 1, 300), ("shard-b", 120, 120, 1, 120)]
    assert lake_count(s3_server, bucket) == 420

    dataset = ds.dataset(f"{bucket}/lake/v1/trade", filesystem=s3_server.pyarrow_fs(), format="parquet",
                         partitioning="hive")
    table = dataset.to_table(columns=["instance", "seq", "price"])
    assert table.num_rows == 420
    assert sorted(set(zip(table.column("instance").to_pylist(), table.column("seq").to_pylist()))) == sorted(
        [("shard-a", s) for s in range(1, 301)] + [("shard-b", s) for s in range(1, 121)]
    )


@pytest.mark.anyio
async def test_a_taken_name_is_never_replaced_and_a_lost_answer_is_not_a_duplicate(
    s3_server: S3Server, bucket: str
) -> None:
    store = S3Store.from_url(f"s3://{bucket}/lake", resolve_options({}))
    assert store.create("v1/x/probe", lambda sink: sink.write(b"first")) == 5
    assert store.create("v1/x/probe", lambda sink: sink.write(b"second")) is None  # 412, kept
    assert store.read("v1/x/probe") == b"first"

    # Same rows committed twice (an answer lost after the PUT): the second finds its own file.
    await record_s3(bucket, "shard-a", trades(50))
    client = s3_server.client()
    (key,) = parquet_keys(s3_server, bucket)
    client.delete_object(Bucket=bucket, Key="lake/v1/_watermark-shard-a.json")  # forget it happened
    stats = await record_s3(bucket, "shard-a", trades(50))
    assert parquet_keys(s3_server, bucket) == [key] and stats.counters["name_collisions"] == 0

    # A foreign object under the natural name (two instances configured with one name): kept,
    # and the new file gets a suffixed name.
    body = client.get_object(Bucket=bucket, Key=key)["Body"].read()  # 50 rows, seqs 1..50
    client.delete_object(Bucket=bucket, Key="lake/v1/_watermark-shard-a.json")
    taken = key.replace("-1-50.parquet", "-1-49.parquet")
    client.put_object(Bucket=bucket, Key=taken, Body=body)
    stats = await record_s3(bucket, "shard-a", trades(49))
    assert stats.counters["name_collisions"] == 1
    assert parquet_keys(s3_server, bucket) == sorted([key, taken, taken.replace(".parquet", ".1.parquet")])
    assert client.get_object(Bucket=bucket, Key=taken)["Body"].read() == body
    assert lake_count(s3_server, bucket) == 149


@pytest.mark.anyio
async def test_an_unreachable_store_holds_the_rows_reports_why_and_catches_up(
    s3_server: S3Server, bucket: str
) -> None:
    async with running_sink(f"s3://{bucket}/lake", instance="shard-a", **FAST_RETRY) as run:  # type: ignore[arg-type]
        await run.channel.put(trades(100))
        await wait_until(lambda: run.stats.counters["rows"] == 100)
        s3_server.stop()  # the endpoint goes away (objects kept, as a real store keeps them)
        try:
            await run.channel.put(trades(100, first_seq=101))
            await wait_until(lambda: run.stats.state == "down")
            assert f"s3://{bucket}/lake" in run.stats.detail and "failed" in run.stats.detail
            await wait_until(lambda: run.stats.counters["write_errors"] >= 3)  # it keeps retrying
            assert run.stats.queue_depth == 100  # held, not dropped
        finally:
            s3_server.start()
        await wait_until(lambda: run.stats.state == "ok", timeout=30)
        await wait_until(lambda: run.stats.counters["rows"] == 200, timeout=30)
    con = duckdb.connect()
    con.register_filesystem(s3_server.s3fs())
    seqs = con.execute(
        f"SELECT seq FROM read_parquet('s3://{bucket}/lake/v1/trade/*/*/*.parquet') ORDER BY seq"
    ).fetchall()
    assert [s for (s,) in seqs] == list(range(1, 201))  # every row exactly once


def test_a_bad_s3_root_is_a_config_error_naming_the_form() -> None:
    import msgspec

    from mdi_parquet.config import ParquetSinkConfig

    with pytest.raises(msgspec.ValidationError, match="s3://<bucket>/<prefix>"):
        msgspec.convert({"root": "s3://A_B/lake"}, ParquetSinkConfig)
    with pytest.raises(msgspec.ValidationError, match="only s3:// URLs"):
        msgspec.convert({"root": "gs://bucket/lake"}, ParquetSinkConfig)


def test_endpoint_and_credentials_come_from_config_keys_before_the_environment() -> None:
    env = {"AWS_ENDPOINT_URL": "http://env:1", "AWS_ACCESS_KEY_ID": "env-key", "AWS_SECRET_ACCESS_KEY": "env-secret"}
    assert resolve_options({"endpoint_url": "http://cfg:2"}, env) == {
        "endpoint_url": "http://cfg:2", "access_key_id": "env-key", "secret_access_key": "env-secret",
        "region": "us-east-1",
    }
    assert anyio  # the module's async tests run on anyio


def test_the_store_lists_like_a_directory_tree(s3_server: S3Server, bucket: str) -> None:
    """Recovery reads pending directories (names), other versions (subdirs) and, without an
    index, the whole tree (files): the same answers as a local directory would give."""
    store = S3Store.from_url(f"s3://{bucket}/lake", resolve_options({}))
    for key in ("v1/trade/date=2024-05-27/hour=12/part-a-1-2.parquet", "v1/trade/date=2024-05-27/hour=12/x",
                "v1/trade/date=2024-05-27/hour=13/part-a-3-4.parquet", "v1/_watermark-a.json", "v0/old"):
        assert store.create(key, lambda sink: sink.write(b"1")) == 1
    assert sorted(store.names("v1/trade/date=2024-05-27/hour=12")) == ["part-a-1-2.parquet", "x"]
    assert store.names("v1") == ["_watermark-a.json"]
    assert sorted(store.subdirs("")) == ["v0", "v1"]
    assert sorted(store.files("v1")) == [
        "v1/_watermark-a.json", "v1/trade/date=2024-05-27/hour=12/part-a-1-2.parquet",
        "v1/trade/date=2024-05-27/hour=12/x", "v1/trade/date=2024-05-27/hour=13/part-a-3-4.parquet",
    ]
    assert store.read("v1/missing") is None and store.size("v1/missing") is None
    assert store.metadata("v1/trade/date=2024-05-27/hour=12/x") is None  # not Parquet


def test_a_bad_instance_name_is_a_config_error_with_the_key_and_the_fix() -> None:
    from mdi.config import ConfigError, parse_config

    with pytest.raises(ConfigError, match=r"\[service\] instance must be .* set e.g. instance = \"shard-a\""):
        parse_config('[service]\ninstance = "shard.a"\n')
    with pytest.raises(ConfigError, match="at least one letter"):
        parse_config('[service]\ninstance = "42"\n')  # would read like a sequence number in file names
    assert parse_config('[service]\ninstance = "shard-a"\n').service.name == "shard-a"


@pytest.mark.anyio
async def test_at_start_up_an_unreachable_store_is_waited_for_not_a_crash(s3_server: S3Server, bucket: str) -> None:
    await record_s3(bucket, "shard-a", trades(30))
    opened: list[int | None] = []
    s3_server.stop()
    try:
        stats = SinkStats(name="parquet", delivery="durable")
        sink = ParquetSink(config(f"s3://{bucket}/lake", **FAST_RETRY))
        ctx = SinkContext(name="parquet", stats=stats, log=logging.getLogger("test.scaleout"), instance="shard-a")
        async with anyio.create_task_group() as tg:

            async def open_it() -> None:
                opened.append(await sink.open(ctx))

            tg.start_soon(open_it)
            await wait_until(lambda: stats.counters["write_errors"] >= 2)  # waiting, retrying
            assert stats.state == "down" and "cannot read the lake" in stats.detail and bucket in stats.detail
            assert opened == []
            s3_server.start()
            await wait_until(lambda: opened != [], timeout=30)  # the same open call, now done
    finally:
        if not s3_server.running:
            s3_server.start()
    assert opened == [30] and stats.state == "ok" and stats.detail == ""
