"""docs/schema.md stays true: the TOML example is the defaults, every config key, counter, gauge
and metadata key has a row, and every stream's column table is exactly what the writer writes."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import msgspec
import pytest
from parquet_support import data_files, file_meta, record, trades

import mdi_parquet.sink
from mdi.events import KINDS
from mdi_parquet.config import ParquetSinkConfig
from mdi_parquet.schema import Scales, builtin_schemas, describe

DOC = Path(__file__).resolve().parents[2] / "docs" / "schema.md"


def table(lines: list[str], header: str) -> list[list[str]]:
    """Cells of the Markdown table whose header row starts with ``| header |``."""
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {header} |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return rows


def names(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def section(stream: str) -> list[str]:
    lines = DOC.read_text().splitlines()
    start = lines.index(f"### `{stream}`")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("#")), len(lines))
    return lines[start:end]


def test_toml_example_is_exactly_the_defaults() -> None:
    block = re.search(r"```toml\n(.*?)```", DOC.read_text(), re.S)
    assert block is not None
    parsed = tomllib.loads(block.group(1))["sinks"]["parquet"]
    assert msgspec.convert(parsed, ParquetSinkConfig) == ParquetSinkConfig()
    assert set(parsed) == set(ParquetSinkConfig.__struct_fields__)


def test_every_config_key_is_documented_with_its_default() -> None:
    rows = {names(r[0])[0]: r[1].strip("`") for r in table(DOC.read_text().splitlines(), "key")}
    defaults = msgspec.to_builtins(ParquetSinkConfig())
    assert set(rows) == set(defaults)
    for key, value in defaults.items():
        assert rows[key] == (f'"{value}"' if isinstance(value, str) else str(value)), key


def test_every_counter_and_gauge_the_sink_sets_is_documented() -> None:
    source = Path(mdi_parquet.sink.__file__).read_text()
    lines = DOC.read_text().splitlines()
    assert set(re.findall(r'counters\["(\w+)"\]', source)) == {names(r[0])[0] for r in table(lines, "counter")}
    assert set(re.findall(r'gauges\["(\w+)"\]', source)) == {names(r[0])[0] for r in table(lines, "gauge")}


@pytest.mark.anyio
async def test_every_metadata_key_written_is_documented(tmp_path: Path) -> None:
    await record(tmp_path, trades(3))
    written = set(file_meta(data_files(tmp_path)[0]))
    documented = {n for r in table(DOC.read_text().splitlines(), "metadata key") for n in names(r[0])}
    assert written == documented


@pytest.mark.parametrize("stream", sorted(KINDS))
def test_each_stream_documents_exactly_its_columns_types_and_encodings(stream: str) -> None:
    schema = builtin_schemas(Scales())[stream]
    options = schema.write_options()

    def encoding(path: str) -> str:
        if path in options["use_dictionary"]:
            return "dictionary"
        return "delta" if path in options["column_encoding"] else "plain"

    expected = [(path, type_text, encoding(path)) for path, type_text in describe(schema.arrow)]
    documented = [(names(r[0])[0], names(r[1])[0], r[2]) for r in table(section(stream), "column")]
    assert documented == expected
