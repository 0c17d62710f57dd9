"""The Binance USD-M futures connector: the shared reconnect loop plus a Binance session."""

from __future__ import annotations

from urllib.parse import urlsplit

from mdi.components import ConnectorContext
from mdi.connector import WsConnector

from mdi_binance.config import BinanceConfig
from mdi_binance.session import BinanceSession
from mdi_binance.symbols import SymbolMap

ROUTED_PREFIX = "/market/"


def path_warning(url: str) -> str:
    """A warning when a live Binance URL is not on the ``/market`` route.

    Since 2026-04-23 markPrice streams are served only under ``/market/stream`` or
    ``/market/ws``; elsewhere the subscription is acknowledged and then nothing arrives.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if host.endswith("binance.com") and not parts.path.startswith(ROUTED_PREFIX):
        return (
            f"url {url!r} is not on the /market route: Binance acknowledges markPrice "
            "subscriptions there and sends nothing (use wss://fstream.binance.com/market/stream)"
        )
    return ""


class BinanceConnector(WsConnector[BinanceConfig]):
    venue = "binance"

    def __init__(self, config: BinanceConfig) -> None:
        super().__init__(config)
        self.symbol_map = SymbolMap(config.symbol_map)  # survives reconnects

    def new_session(self, ctx: ConnectorContext) -> BinanceSession:
        return BinanceSession(self, ctx)

    async def run(self, ctx: ConnectorContext) -> None:
        warning = path_warning(self.url())
        if warning:
            ctx.log.warning(warning, extra={"venue": ctx.name})
        await super().run(ctx)
