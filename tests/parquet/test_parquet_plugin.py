"""Registration through the real hook, config defaults and errors, and the sink inside the real
runtime: the router's sequence continues from the lake's watermark across a restart."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Callable

import anyio
import msgspec
import pluggy
import pytest
from parquet_support import T0, read_stream

import mdi_parquet.plugin
from mdi import hookspecs
from mdi.components import ConnectorContext, ConnectorSpec, SinkSpec
from mdi.config import ConfigError, parse_config
from mdi.events import Trade
from mdi.graph import assemble
from mdi.hookspecs import hookimpl
from mdi.plugins import build_plugin_host
from mdi.runtime import Service
from mdi_parquet.config import ParquetSinkConfig
from mdi_parquet.sink import ParquetSink


def test_plugin_registers_a_durable_sink_named_parquet() -> None:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    pm.register(mdi_parquet.plugin)
    specs: list[SinkSpec] = []
    pm.hook.mdi_register_sinks(register=specs.append)
    assert [(s.name, s.delivery, s.config_type) for s in specs] == [("parquet", "durable", ParquetSinkConfig)]
    assert isinstance(specs[0].factory(ParquetSinkConfig()), ParquetSink)


def test_defaults_decode_from_an_empty_section() -> None:
    config = msgspec.convert({}, ParquetSinkConfig)
    assert (config.root, config.buffer_rows, config.flush_interval, config.decimal_scale) == ("data", 100_000, 60.0, 12)
    assert config.scales().of("trade", "price") == 12


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"buffer_rows": 0}, r"Expected `int` >= 1 - at `\$.buffer_rows`"),
        ({"flush_interval": 0}, r"Expected `float` > 0.0 - at `\$.flush_interval`"),
        ({"compression_level": 23}, r"Expected `int` <= 22"),
        ({"decimal_scale": 39}, r"Expected `int` <= 38"),
        ({"column_scales": {"trade.qty": 8}}, r"trade.qty is not a decimal column"),
        ({"column_scales": {"trade.trade_id": 8}}, r"trade.trade_id is not a decimal column"),
        ({"column_scales": {"trade.size": -1}}, r"Expected `int` >= 0 - at `\$.column_scales\[...\]`"),
        ({"backoff_initial": 2.0, "backoff_max": 1.0}, "backoff_max must be >= backoff_initial"),
        ({"root": ""}, "`root`: must be a directory path"),
        ({"rot": "x"}, "Object contains unknown field `rot`"),
    ],
)
def test_invalid_sections_are_rejected_with_the_reason(section: dict[str, object], message: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=message):
        msgspec.convert(section, ParquetSinkConfig)


def test_nested_decimal_columns_are_valid_scale_keys() -> None:
    config = msgspec.convert({"column_scales": {"option_ticker.greeks.gamma": 16, "iv_surface_snapshot.smile.strike": 2}},
                             ParquetSinkConfig)
    assert config.scales().of("option_ticker", "greeks.gamma") == 16


class SourceConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    total: int = 100
    batch: int = 10


class Source:
    """A connector that emits ``total`` trades, then idles until the runtime stops it."""

    def __init__(self, config: SourceConfig) -> None:
        self.config = config

    async def run(self, ctx: ConnectorContext) -> None:
        size = self.config.batch
        for start in range(0, self.config.total, size):
            await ctx.emit([
                Trade(venue="src", symbol="BTC-USD", ts_recv=T0 + i, trade_id=str(i), price=Decimal("67000.5"),
                      size=Decimal(i + 1).scaleb(-8))
                for i in range(start, min(start + size, self.config.total))
            ])
        await anyio.sleep_forever()


class SourcePlugin:
    @hookimpl
    def mdi_register_connectors(self, register: Callable[[ConnectorSpec], None]) -> None:
        register(ConnectorSpec(name="src", config_type=SourceConfig, factory=Source))


def service(root: Path, total: int) -> Service:
    text = f"""
[http]
enabled = false
[connectors.src]
total = {total}
batch = 25
[sinks.parquet]
root = "{root}"
buffer_rows = 100
"""
    host = build_plugin_host(load_entrypoints=False, extra=[("parquet", mdi_parquet.plugin), ("src", SourcePlugin())])
    return Service(assemble(parse_config(text, "test.toml"), host))


async def run_until_routed(svc: Service, count: int) -> None:
    async with anyio.create_task_group() as tg:
        await tg.start(svc.run)
        with anyio.fail_after(10):
            while svc.stats.router.routed < count:
                await anyio.sleep(0.01)
        svc.request_stop()


@pytest.mark.anyio
async def test_in_the_real_runtime_seq_continues_from_the_lake_after_a_restart(tmp_path: Path) -> None:
    first = service(tmp_path, 250)
    await run_until_routed(first, 250)
    assert first.stats.sinks["parquet"].counters["rows"] == 250  # the clean stop flushed everything
    second = service(tmp_path, 120)
    await run_until_routed(second, 120)
    assert second.stats.sinks["parquet"].gauges["watermark"] == 370
    table = read_stream(tmp_path, "trade")
    assert table.column("seq").to_pylist() == list(range(1, 371))
    assert table.column("trade_id").to_pylist() == [str(i) for i in range(250)] + [str(i) for i in range(120)]


def test_config_errors_name_the_section_through_the_core(tmp_path: Path) -> None:
    host = build_plugin_host(load_entrypoints=False, extra=[("parquet", mdi_parquet.plugin)])
    with pytest.raises(ConfigError, match=r"\[sinks.parquet\] .*unknown field `rot`.*did you mean 'root'"):
        assemble(parse_config("[sinks.parquet]\nrot = 'x'\n", "test.toml"), host)
