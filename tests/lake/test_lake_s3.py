"""`mdi lake` on a lake in a real S3-compatible server (moto, on 127.0.0.1), through pyarrow's
S3 filesystem and the standard AWS_* variables: verify, compact (the replace protocol), query."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from lake_support import all_rows, mdi, write_lake
from mdi.testing.s3_server import S3Server


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    with S3Server() as server:
        yield server


def test_verify_compact_and_query_a_lake_on_s3(s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    bucket = s3_server.create_bucket(f"lake-{uuid.uuid4().hex[:12]}")
    local = tmp_path / "lake"
    write_lake(local, hours=2)
    before = all_rows(local)
    client = s3_server.client()
    for path in sorted(local.rglob("*")):
        if path.is_file():
            client.upload_file(str(path), bucket, f"lake/{path.relative_to(local).as_posix()}")
    uri = f"s3://{bucket}/lake"

    code, out = mdi("lake", "verify", uri)
    assert code == 0, out
    code, out = mdi("lake", "compact", uri)
    assert code == 0 and "compacted 5 partition(s)" in out, out
    keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix="lake/").get("Contents", []))
    data = [k for k in keys if k.endswith(".parquet")]
    assert len(data) == 5 and not [k for k in keys if "_compact/" in k and not k.endswith("/")]
    for key in data:  # the merged objects hold exactly the rows the small ones held
        target = tmp_path / "back" / key
        target.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(bucket, key, str(target))
    assert all_rows(tmp_path / "back" / "lake") == before
    assert mdi("lake", "verify", uri)[0] == 0
    code, out = mdi("lake", "query", uri, "SELECT count(*) AS n FROM bbo", "--format", "json")
    assert code == 0 and json.loads(out) == {"n": len(before["bbo"])}
