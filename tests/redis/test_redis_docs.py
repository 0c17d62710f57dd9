"""docs/redis.md stays true: the TOML example is the defaults, every config key and every counter
the sink bumps has a row."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import msgspec

import mdi_redis.sink
from mdi_redis.config import RedisSinkConfig

DOC = Path(__file__).resolve().parents[2] / "docs" / "redis.md"


def table_rows(text: str, header: str) -> dict[str, str]:
    """First-column -> second-column of the Markdown table whose header row starts with ``header``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {header} |"))
    rows: dict[str, str] = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0].strip("`")] = cells[1]
    return rows


def test_toml_example_is_exactly_the_defaults() -> None:
    block = re.search(r"```toml\n(.*?)```", DOC.read_text(), re.S)
    assert block is not None
    section = tomllib.loads(block.group(1))["sinks"]["redis"]
    assert msgspec.convert(section, RedisSinkConfig) == RedisSinkConfig()
    assert set(section) == set(RedisSinkConfig.__struct_fields__)


def test_every_config_key_is_documented_with_its_default() -> None:
    rows = table_rows(DOC.read_text(), "key")
    defaults = msgspec.to_builtins(RedisSinkConfig())
    assert set(rows) == set(defaults)
    for key, value in defaults.items():
        shown = rows[key].strip("`")
        assert shown == (f'"{value}"' if isinstance(value, str) else str(value).lower()), key


def test_every_counter_the_sink_bumps_is_documented() -> None:
    source = Path(mdi_redis.sink.__file__).read_text()
    bumped = set(re.findall(r'counters\["(\w+)"\]', source))
    assert bumped >= {"events_in", "coalesced", "dropped", "writes", "errors", "reconnects"}
    assert bumped == set(table_rows(DOC.read_text(), "counter"))
