"""Deribit tests run every connector scenario over both WebSocket transports."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["httpx-ws", "picows"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)
