"""KrakenConfig decoding/validation, symbol mapping, request text, and plugin registration."""

from __future__ import annotations

import json
import re
import tomllib

import msgspec
import pluggy
import pytest

from mdi import hookspecs
from mdi.components import ConnectorSpec
from mdi.connector import ConnectorConfigBase

import mdi_kraken.plugin
from mdi_kraken import wire
from mdi_kraken.config import KrakenConfig
from mdi_kraken.connector import KrakenConnector
from mdi_kraken.sim import KrakenSimulator

DOC_EXAMPLE = """
[connectors.kraken]
url = "wss://ws.kraken.com/v2"
transport = "auto"
symbols = ["BTC/USD", "ETH/USD"]
bbo = true
trades = true
event_trigger = "bbo"
trade_snapshot = true
ping_after = 10.0
trade_gap_check = true
stale_after = 30.0
open_timeout = 10.0
ack_timeout = 10.0
backoff_initial = 0.5
backoff_max = 30.0
max_connection_age = 0.0
dedup_capacity = 100000
"""


def test_defaults() -> None:
    cfg = KrakenConfig()
    assert isinstance(cfg, ConnectorConfigBase)
    assert cfg.url == "wss://ws.kraken.com/v2"
    assert cfg.symbols == ["BTC/USD"]
    assert (cfg.bbo, cfg.trades, cfg.event_trigger, cfg.trade_snapshot) == (True, True, "bbo", True)
    assert (cfg.ping_after, cfg.trade_gap_check, cfg.stale_after, cfg.dedup_capacity) == (10.0, True, 30.0, 100_000)
    assert KrakenConfig().symbols is not cfg.symbols  # no shared mutable default


def test_documented_toml_section_decodes() -> None:
    table = tomllib.loads(DOC_EXAMPLE)["connectors"]["kraken"]
    cfg = msgspec.convert(table, KrakenConfig)
    assert cfg.symbols == ["BTC/USD", "ETH/USD"] and cfg.transport == "auto"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"symbol": ["BTC/USD"]}, "unknown field `symbol`"),
        ({"symbols": ["BTCUSD"]}, "not a Kraken v2 pair"),
        ({"symbols": []}, "at least one"),
        ({"symbols": ["BTC/USD", "BTC/USD"]}, "duplicates"),
        ({"bbo": False, "trades": False}, "at least one of bbo, trades"),
        ({"event_trigger": "book"}, "Invalid enum value 'book' - at `$.event_trigger`"),
        ({"ping_after": -1}, "ping_after"),
        ({"ping_after": "10"}, "Expected `float`, got `str` - at `$.ping_after`"),
    ],
)
def test_bad_config_is_rejected_with_its_path(table: dict, message: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=re.escape(message)):
        msgspec.convert(table, KrakenConfig)


@pytest.mark.parametrize(
    ("pair", "canonical"),
    [("BTC/USD", "BTC-USD"), ("XBT/USD", "BTC-USD"), ("ETH/BTC", "ETH-BTC"), ("ETH/XBT", "ETH-BTC"), ("USDT/USD", "USDT-USD")],
)
def test_canonical_symbol(pair: str, canonical: str) -> None:
    assert wire.canonical_symbol(pair) == canonical


@pytest.mark.parametrize("pair", ["BTCUSD", "/USD", "BTC/", "A/B/C"])
def test_canonical_symbol_rejects_non_pairs(pair: str) -> None:
    with pytest.raises(ValueError):
        wire.canonical_symbol(pair)


def test_request_texts() -> None:
    assert json.loads(wire.subscribe_request("trade", ["BTC/USD"], 7, snapshot=False)) == {
        "method": "subscribe", "params": {"channel": "trade", "symbol": ["BTC/USD"], "snapshot": False}, "req_id": 7}
    assert wire.ping_request(3) == '{"method":"ping","req_id":3}'


def test_plugin_registers_the_connector_with_its_simulator() -> None:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    pm.register(mdi_kraken.plugin, name="kraken")
    try:
        specs: list[ConnectorSpec] = []
        pm.hook.mdi_register_connectors(register=specs.append)
    finally:
        pm.unregister(name="kraken")
    (spec,) = specs
    assert (spec.name, spec.config_type, spec.factory) == ("kraken", KrakenConfig, KrakenConnector)
    assert spec.simulator is KrakenSimulator
    connector = spec.factory(KrakenConfig())
    assert isinstance(connector, KrakenConnector) and connector.venue == "kraken"
    sim = spec.simulator()
    assert sim.sim_url().endswith("/v2")
