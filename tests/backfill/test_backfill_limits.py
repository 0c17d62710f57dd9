"""The repair worker's bounds and shutdown: a full queue and a stop mid-repair still write a gap
row for every hole (nothing dropped silently); bad settings are refused with the key named."""

from __future__ import annotations

import re

import anyio
import msgspec
import pytest
from backfill_support import KRAKEN_PAIR, kraken_run, kraken_sim, wait_for  # noqa: F401 (kraken_sim: the `sim` fixture)

from mdi_coinbase.config import CoinbaseConfig
from mdi_kraken.config import KrakenConfig
from mdi_kraken.sim import KrakenSimulator

pytestmark = pytest.mark.anyio
PAIR = KRAKEN_PAIR
run = kraken_run


async def hole(sim: KrakenSimulator) -> None:
    """A trade, two ids that exist nowhere, a trade: one hole of two."""
    await sim.publish_trades(PAIR, [("buy", "68500.1", "0.01000000")])
    sim.skip_trade_ids(PAIR, 2)
    await sim.publish_trades(PAIR, [("buy", "68500.1", "0.01000000")])


async def test_a_full_queue_writes_the_hole_at_once(sim: KrakenSimulator) -> None:
    r = run(sim, backfill_max_pending=1, backfill_retries=50)
    sim.rest_faults.extend([503] * 30)  # the first repair keeps retrying while more holes come
    async with r.running():
        await hole(sim)
        await wait_for(lambda: r.stats.repairs_in_progress == 1)
        await hole(sim)
        await wait_for(lambda: r.stats.repairs_queued == 1)
        await hole(sim)  # nowhere to wait: written now
        await wait_for(lambda: len(r.trade_gaps()) == 1)
        assert [(g.repair, g.repair_reason) for g in r.trade_gaps()] == [("unrepairable", "queue_full")]
        sim.rest_faults.clear()
        await wait_for(lambda: len(r.trade_gaps()) == 3)
    assert sorted(g.repair_reason for g in r.trade_gaps()) == ["not_in_venue_history", "not_in_venue_history", "queue_full"]
    assert r.stats.gaps == 3 and r.stats.gaps_unrepaired == 3 and r.stats.repairs_queued == 0


async def test_stopping_mid_repair_writes_shutdown_rows(sim: KrakenSimulator) -> None:
    r = run(sim, backfill_retries=1000)
    sim.rest_faults.extend([503] * 1000)
    async with r.running():
        await hole(sim)
        await wait_for(lambda: r.stats.repairs_in_progress == 1 and r.stats.backfill_requests >= 2)
        await hole(sim)
        await wait_for(lambda: r.stats.repairs_queued == 1)
    rows = r.trade_gaps()
    assert [(g.repair, g.repair_reason, g.missing) for g in rows] == [("unrepairable", "shutdown", 2)] * 2
    assert "during the repair" in rows[0].repair_detail and "before the repair" in rows[1].repair_detail


@pytest.mark.parametrize("config_type", [KrakenConfig, CoinbaseConfig])
@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"rest_url": "api.kraken.com"}, "rest_url 'api.kraken.com' must start with http:// or https:// (or set backfill = false)"),
        ({"backfill_max_requests": 0}, "backfill_max_requests must be >= 1"),
        ({"backfill_max_lookback": 0}, "backfill_max_lookback must be > 0"),
        ({"backfill_min_interval": -1}, "backfill_min_interval must be >= 0"),
        ({"backfill_retries": -1}, "backfill_retries must be >= 0"),
        ({"backfill": "yes"}, "Expected `bool`, got `str` - at `$.backfill`"),
    ],
)
def test_bad_backfill_settings_are_refused(config_type: type, table: dict[str, object], message: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=re.escape(message)):
        msgspec.convert(table, config_type)


def test_backfill_off_needs_no_rest_url() -> None:
    assert msgspec.convert({"backfill": False, "rest_url": ""}, KrakenConfig).backfill is False


async def test_without_backfill_the_connector_runs_no_worker(sim: KrakenSimulator) -> None:
    r = run(sim, backfill=False)
    async with r.running():
        assert r.connector.backfiller is not None and not r.connector.backfiller.active
        await anyio.sleep(0)


async def test_a_local_stream_is_never_repaired_from_a_remote_api(sim: KrakenSimulator) -> None:
    """A simulator's ids are not the venue's: a remote rest_url is refused, the hole says why."""
    r = run(sim, rest_url="https://mdi-test.invalid")
    async with r.running():
        assert r.connector.backfiller is not None and not r.connector.backfiller.active
        await hole(sim)
        await wait_for(lambda: len(r.trade_gaps()) == 1)
    (gap,) = r.trade_gaps()
    assert (gap.repair, gap.repair_reason, gap.missing) == ("not_attempted", "rest_url_not_local", 2)
    assert "point rest_url at the simulator" in gap.repair_detail and sim.rest_requests == []
