"""The status page's memory of the derived streams, its events/s meter and its stale rule."""

from __future__ import annotations

from decimal import Decimal

import anyio
import pytest

from mdi.config import RouterConfig
from mdi.events import BBO, IVSurfaceSnapshot, SmilePoint, SpotMid, VenueMid
from mdi.router import Router
from mdi.stats import RouterStats, ServiceStats, VenueStats
from mdi.statuspage.document import page_state
from mdi.statuspage.history import DerivedHistory
from mdi.statuspage.rates import RateMeter

S = 1_000_000_000
T0 = 1_800_000_000 * S


def spot(second: int, mid: str | None = "65000.125", quality: str = "Ok") -> SpotMid:
    return SpotMid(
        venue="mdi", symbol="BTC-USD", ts_recv=T0 + second * S, ts_bucket=T0 + second * S,
        mid=None if mid is None else Decimal(mid), quality=quality,  # type: ignore[arg-type]
        venue_mids=[VenueMid(venue="kraken", mid=Decimal("65000.1"), age_ms=12, fresh=True),
                    VenueMid(venue="coinbase", mid=None, age_ms=None, fresh=False, reason="stale")],
    )


def surface(expiry_days: int, at: int = 0, iv: str = "55.25") -> IVSurfaceSnapshot:
    return IVSurfaceSnapshot(
        venue="mdi", symbol="BTC", ts_recv=T0 + at * S, ts_bucket=T0 + at * S,
        expiry_ns=T0 + expiry_days * 86_400 * S, forward=Decimal("65100"), atm_iv=Decimal(iv),
        smile=[SmilePoint(strike=Decimal("60000"), option_type="P", mark_iv=Decimal("61.5"), bid_iv=None, ask_iv=None, delta=None)],
    )


def bbo() -> BBO:
    one = Decimal("1")
    return BBO(venue="kraken", symbol="BTC-USD", ts_recv=T0, bid_px=one, bid_sz=one, ask_px=one, ask_sz=one)


def test_spot_history_is_bounded_and_keeps_the_newest_points_exactly() -> None:
    history = DerivedHistory(spot_points=5)
    history.observe([spot(i, mid=f"65000.{i:03d}") for i in range(12)])
    points = history.spot_json()["BTC-USD"]
    assert [p["t"] for p in points] == [(T0 + i * S) / S for i in range(7, 12)]
    assert [p["mid"] for p in points] == ["65000.007", "65000.008", "65000.009", "65000.010", "65000.011"]
    assert points[0]["venues"] == {
        "kraken": {"mid": "65000.1", "fresh": True, "age_ms": 12},
        "coinbase": {"mid": None, "fresh": False, "age_ms": None},
    }


def test_a_missing_mid_and_its_quality_are_kept() -> None:
    history = DerivedHistory()
    history.observe([spot(0, mid=None, quality="Suspect")])
    (point,) = history.spot_json()["BTC-USD"]
    assert (point["mid"], point["quality"]) == (None, "Suspect")


def test_surfaces_keep_the_latest_snapshot_of_the_nearest_expiries() -> None:
    history = DerivedHistory(max_expiries=2)
    history.observe([surface(30), surface(1, iv="40"), surface(7)])
    history.observe([surface(1, at=10, iv="41.5")])  # newer snapshot of the same expiry
    shown = history.surfaces_json(T0)
    assert [s["expiry"] for s in shown] == [(T0 + d * 86_400 * S) / S for d in (1, 7)]
    assert shown[0]["atm_iv"] == "41.5"
    assert shown[0]["smile"] == [{"strike": "60000", "type": "P", "mark_iv": "61.5", "bid_iv": None, "ask_iv": None}]


def test_expired_surfaces_are_dropped() -> None:
    history = DerivedHistory()
    history.observe([surface(1), surface(2)])
    assert len(history.surfaces_json(T0 + 86_400 * S + 1)) == 1  # the day-1 expiry has passed
    history.observe([surface(3, at=2 * 86_400 + 5)])  # a snapshot after day 2: days 1 and 2 expired
    assert sorted(k[1] for k in history.surfaces) == [T0 + 3 * 86_400 * S]


def test_other_events_are_ignored_and_a_bad_batch_never_raises() -> None:
    history = DerivedHistory()
    history.observe([bbo()])
    assert history.spot_json() == {} and history.surfaces_json(T0) == []
    history.observe(None)  # type: ignore[arg-type]  # what a broken caller might pass
    assert history.errors == 1


def test_sizes_must_be_positive() -> None:
    with pytest.raises(ValueError):
        DerivedHistory(spot_points=0)


def test_rate_meter_reports_events_per_second_between_samples() -> None:
    service = ServiceStats(venues={"kraken": VenueStats(name="kraken", events=100)})
    meter = RateMeter(window=5.0, min_interval=0.5)
    assert meter.rates(service, T0) == {"kraken": None}  # one sample: no rate yet
    service.venues["kraken"].events = 130
    assert meter.rates(service, T0 + S // 10) == {"kraken": None}  # too soon for a second sample
    assert meter.rates(service, T0 + 2 * S) == {"kraken": 15.0}
    service.venues["kraken"].events = 330
    for second in range(3, 12):  # old samples leave the 5 s window
        meter.rates(service, T0 + second * S)
    assert meter.rates(service, T0 + 12 * S) == {"kraken": 0.0}


@pytest.mark.parametrize(("state", "age", "limit", "shown"), [
    ("live", 0.5, 5.0, "live"),
    ("live", 5.0, 5.0, "stale"),  # re-subscribed after a stall, still no data
    ("live", 9.0, None, "live"),  # a connector without stale_after
    ("backoff", 9.0, 5.0, "backoff"),
    ("live", None, 5.0, "live"),
])
def test_page_state(state: str, age: float | None, limit: float | None, shown: str) -> None:
    assert page_state(state, age, limit) == shown


@pytest.mark.anyio
async def test_the_router_hands_derived_batches_only_to_its_taps() -> None:
    router = Router(RouterConfig(), RouterStats())
    seen: list[list[object]] = []
    router.derived_taps.append(seen.append)
    sink = router.add_sink("s", durable=True)
    async with anyio.create_task_group() as tg:
        tg.start_soon(router.run)
        await router.emit_ingress([bbo()])
        assert router.emit_derived([spot(0)])
        router.ingress.close()
        router.derived.close()
    assert [[type(e) for e in batch] for batch in seen] == [[SpotMid]]
    assert seen[0][0].seq > 0  # type: ignore[attr-defined]  # taps see stamped events
    assert {type(e) for e in sink.get_nowait(10)} == {BBO, SpotMid}  # the sinks still get everything
