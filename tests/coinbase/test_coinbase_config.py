"""``[connectors.coinbase]`` decoding and validation, and the plugin's registration."""

from __future__ import annotations

import pytest

from mdi.config import ConfigError, decode_section, parse_config
from mdi.plugins import build_plugin_host

import mdi_coinbase.plugin
from mdi_coinbase.config import LIVE_URL, CoinbaseConfig
from mdi_coinbase.connector import CoinbaseConnector
from mdi_coinbase.sim import CoinbaseSimulator

EXAMPLE = """
[connectors.coinbase]
url = "wss://advanced-trade-ws.coinbase.com"
transport = "picows"
symbols = ["BTC-USD", "ETH-USD"]
bbo = true
trades = true
heartbeats = true
wire_side_is_maker = true
stale_after = 30.0
ack_timeout = 10.0
backoff_initial = 0.5
backoff_max = 30.0
max_connection_age = 0.0
dedup_capacity = 100000
"""


def decode(text: str) -> CoinbaseConfig:
    config = parse_config(text, "config.toml")
    table = config.enabled("connectors")["coinbase"]
    result = decode_section(config, "connectors", "coinbase", table, CoinbaseConfig)
    assert isinstance(result, CoinbaseConfig)
    return result


def test_defaults() -> None:
    cfg = CoinbaseConfig()
    assert cfg.url == LIVE_URL == "wss://advanced-trade-ws.coinbase.com"
    assert cfg.symbols == ["BTC-USD"]
    assert (cfg.bbo, cfg.trades, cfg.heartbeats, cfg.wire_side_is_maker) == (True, True, True, True)
    assert (cfg.transport, cfg.stale_after, cfg.dedup_capacity) == ("auto", 30.0, 100_000)


def test_example_section_decodes() -> None:
    cfg = decode(EXAMPLE)
    assert cfg.symbols == ["BTC-USD", "ETH-USD"] and cfg.transport == "picows"
    assert decode("[connectors.coinbase]\n") == CoinbaseConfig()


def test_unknown_key_names_the_section() -> None:
    with pytest.raises(ConfigError) as info:
        decode('[connectors.coinbase]\nproduct_ids = ["BTC-USD"]\n')
    assert "[connectors.coinbase]" in str(info.value) and "product_ids" in str(info.value)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("symbols = []", "at least one Coinbase product id"),
        ('symbols = ["BTCUSD"]', "not a Coinbase product id"),
        ('symbols = [" BTC-USD"]', "not a Coinbase product id"),
        ('symbols = ["BTC-USD", "BTC-USD"]', "duplicates"),
        ("bbo = false\ntrades = false", "enable at least one of bbo, trades"),
        ("stale_after = 0", "Expected `float` > 0.0 - at `connectors.coinbase.stale_after`"),
        ('symbols = "BTC-USD"', "Expected `array`, got `str`"),
    ],
)
def test_invalid_sections(body: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        decode(f"[connectors.coinbase]\n{body}\n")
    assert message in str(info.value)
    assert "[connectors.coinbase]" in str(info.value)


def test_plugin_registers_connector_with_simulator() -> None:
    host = build_plugin_host(load_entrypoints=False, extra=[("coinbase", mdi_coinbase.plugin)])
    registered = host.spec("connector", "coinbase")
    assert registered is not None
    spec = registered.spec
    assert spec.config_type is CoinbaseConfig and spec.simulator is CoinbaseSimulator
    assert isinstance(spec.factory(CoinbaseConfig()), CoinbaseConnector)
    assert host.failed() == [] and host.conflicts == []


def test_entry_point_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MDI_LOAD_PLUGINS", "coinbase")
    host = build_plugin_host()
    assert host.plugins["coinbase"].status == "ok"
    assert host.plugins["coinbase"].components == [("connector", "coinbase")]
