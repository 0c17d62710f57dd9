"""Registration through the real hook, the config type's defaults and its validation errors."""

from __future__ import annotations

import msgspec
import pluggy
import pytest

import mdi_redis.plugin
from mdi import hookspecs
from mdi.components import SinkSpec
from mdi_redis.config import RedisSinkConfig
from mdi_redis.keys import key_rules
from mdi_redis.sink import RedisSink
from mdi_redis.writer import redact


def test_plugin_registers_a_best_effort_sink_named_redis() -> None:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    pm.register(mdi_redis.plugin)
    specs: list[SinkSpec] = []
    pm.hook.mdi_register_sinks(register=specs.append)
    assert [(s.name, s.delivery, s.config_type) for s in specs] == [("redis", "best_effort", RedisSinkConfig)]
    assert isinstance(specs[0].factory(RedisSinkConfig()), RedisSink)


def test_defaults_decode_from_an_empty_section() -> None:
    config = msgspec.convert({}, RedisSinkConfig)
    assert (config.url, config.prefix, config.flush_interval, config.window_len) == (
        "redis://127.0.0.1:6379/0", "md:v1", 0.05, 60)
    assert (config.pubsub, config.latest_trade, config.window_exact, config.health_interval) == (
        True, False, False, 1.0)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"url": "http://localhost:6379"}, "`url`: must start with redis://"),
        ({"flush_interval": 0}, "flush_interval must be > 0"),
        ({"window_len": 0}, "window_len must be > 0"),
        ({"prefix": "md:"}, "trailing ':'"),
        ({"backoff_initial": 2.0, "backoff_max": 1.0}, "backoff_max must be >= backoff_initial"),
        ({"health_interval": -1}, "must be >= 0"),
        ({"flush_intervall": 0.1}, "Object contains unknown field `flush_intervall`"),
        ({"pubsub": "yes"}, r"Expected `bool`, got `str` - at `\$.pubsub`"),
    ],
)
def test_invalid_sections_are_rejected_with_the_reason(section: dict[str, object], message: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=message):
        msgspec.convert(section, RedisSinkConfig)


def test_key_table_covers_the_documented_kinds() -> None:
    assert sorted(t.__name__ for t in key_rules("p")) == [
        "BBO", "IVSurfaceSnapshot", "MarkPrice", "SpotMid", "VolIndex"]
    assert "Trade" in {t.__name__ for t in key_rules("p", latest_trade=True)}


def test_redact_hides_only_the_password() -> None:
    assert redact("rediss://user:pw@host:6380/1?x=1") == "rediss://user:***@host:6380/1?x=1"
    assert redact("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
