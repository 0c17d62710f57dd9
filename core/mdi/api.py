"""The public plugin API: everything a plugin may import from mdi, in one module.

A plugin that imports only from ``mdi.api`` (and ``mdi.testing`` in its tests) keeps working
across mdi releases with the same API major version. Anything else in ``mdi.*`` is internal and
may change without notice.

Versioning (``API_VERSION``, "MAJOR.MINOR"): adding a name, a hook, an optional argument or a
field with a default is a MINOR change; removing or renaming anything, or changing a signature
incompatibly, is a MAJOR change. Every change to this surface bumps ``API_VERSION`` and gets an
entry in ``docs/api-changelog.md``; ``tests/pluginkit/test_pluginkit_api_surface.py`` compares the
live surface with ``docs/api-surface.json`` and fails until both are done. After a legitimate
change one command does both: ``python -m mdi.apisurface --write --note "what changed" [--major]``.
"""

from __future__ import annotations

from mdi.channel import BatchChannel
from mdi.components import (
    Connector,
    ConnectorContext,
    ConnectorSpec,
    Delivery,
    Pipeline,
    PipelineContext,
    PipelineSpec,
    Sink,
    SinkContext,
    SinkSpec,
)
from mdi.connector import (
    ConnectorConfigBase,
    InvalidFrame,
    MalformedFrame,
    SessionError,
    StaleError,
    VenueSession,
    WsConnector,
)
from mdi.dedup import RecentIds
from mdi.events import (
    BBO,
    ConnectionStatus,
    EventBase,
    Greeks,
    IVSurfaceSnapshot,
    MarkPrice,
    OptionTicker,
    Rejected,
    SequenceGap,
    Side,
    SpotMid,
    Trade,
    VolIndex,
)
from mdi.hookspecs import hookimpl
from mdi.stats import ComponentStats, Histogram, SinkStats, VenueStats
from mdi.testing.sim import VenueSimulator, reference_price
from mdi.transport import Frame

API_VERSION = "1.7"

__all__ = [
    "API_VERSION",
    "BBO",
    "BatchChannel",
    "ComponentStats",
    "ConnectionStatus",
    "Connector",
    "ConnectorConfigBase",
    "ConnectorContext",
    "ConnectorSpec",
    "Delivery",
    "EventBase",
    "Frame",
    "Greeks",
    "Histogram",
    "IVSurfaceSnapshot",
    "InvalidFrame",
    "MalformedFrame",
    "MarkPrice",
    "OptionTicker",
    "Pipeline",
    "PipelineContext",
    "PipelineSpec",
    "RecentIds",
    "Rejected",
    "SequenceGap",
    "SessionError",
    "Side",
    "Sink",
    "SinkContext",
    "SinkSpec",
    "SinkStats",
    "SpotMid",
    "StaleError",
    "Trade",
    "VenueSession",
    "VenueSimulator",
    "VenueStats",
    "VolIndex",
    "WsConnector",
    "hookimpl",
    "reference_price",
]
