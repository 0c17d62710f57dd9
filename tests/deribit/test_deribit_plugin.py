"""The plugin registers the connector, its config type and its simulator through the hook."""

from __future__ import annotations

from importlib.metadata import entry_points

import pluggy
from mdi import hookspecs
from mdi.components import ConnectorSpec

import mdi_deribit.plugin
from mdi_deribit.config import DeribitConfig
from mdi_deribit.connector import DeribitConnector
from mdi_deribit.sim import DeribitSimulator


def registered() -> list[ConnectorSpec]:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    pm.register(mdi_deribit.plugin)
    specs: list[ConnectorSpec] = []
    try:
        pm.hook.mdi_register_connectors(register=specs.append)
    finally:
        pm.unregister(mdi_deribit.plugin)
    return specs


def test_registers_the_deribit_connector() -> None:
    [spec] = registered()
    assert spec.name == "deribit" and spec.config_type is DeribitConfig
    connector = spec.factory(DeribitConfig())
    assert isinstance(connector, DeribitConnector) and connector.venue == "deribit"
    assert spec.simulator is not None
    sim = spec.simulator()
    assert isinstance(sim, DeribitSimulator) and sim.sim_url().endswith("/ws/api/v2")
    assert "DVOL" in spec.description


def test_entry_point_names_the_plugin_module() -> None:
    [ep] = [ep for ep in entry_points(group="mdi") if ep.name == "deribit"]
    assert ep.value == "mdi_deribit.plugin" and ep.load() is mdi_deribit.plugin
