"""``MDI_DEMO_CONTROL``: a ``<venue>.stall`` file stalls that demo simulator, removing it resumes."""

from __future__ import annotations

from pathlib import Path

import pytest

import anyio

from mdi.cli import demo_control
from mdi_coinbase.sim import CoinbaseSimulator
from mdi_kraken.sim import KrakenSimulator


def test_a_stall_file_stalls_only_its_venue_and_removing_it_resumes(tmp_path: Path) -> None:
    kraken, coinbase = KrakenSimulator(), CoinbaseSimulator()
    (tmp_path / "kraken.stall").touch()
    demo_control.apply(tmp_path, [kraken, coinbase])
    assert (kraken.stalled, coinbase.stalled) == (True, False)
    (tmp_path / "kraken.stall").unlink()
    demo_control.apply(tmp_path, [kraken, coinbase])
    assert (kraken.stalled, coinbase.stalled) == (False, False)


def test_the_control_is_off_unless_the_variable_is_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(demo_control.ENV, raising=False)
    assert demo_control.control_dir() is None
    monkeypatch.setenv(demo_control.ENV, str(tmp_path))
    assert demo_control.control_dir() == tmp_path


@pytest.mark.anyio
async def test_watch_returns_at_once_when_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(demo_control.ENV, raising=False)
    with anyio.fail_after(5):  # it must return, or it would hold the demo's task group open
        await demo_control.watch([KrakenSimulator()])
