"""A small synthetic BTC option market that the simulator serves in Deribit's real frame shapes.

The option list is the live ``public/get_instruments`` answer of 2021-07-22 (strikes, types,
settlement periods; ``sim_instruments.json``) moved forward in time: each expiry keeps its
distance in days from the capture date, counted from today, so every listed option expires in
the future and the connector's expiry filters behave as they would live. Prices come from
Black-76 with a simple smile around a slowly moving index and DVOL; floats are fine here because
the output is JSON text, which the connector reads exactly like Deribit's.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from importlib.resources import files
from typing import Any, Literal

from mdi_deribit.instruments import MONTHS, parse_option_name

MS_PER_DAY = 86_400_000
MS_PER_YEAR = 365 * MS_PER_DAY
MONTH_CODES = {i: m for m, i in MONTHS.items()}
NOTIFICATION_PREFIX = '{"jsonrpc":"2.0","method":"subscription","params":{"channel":"'
DVOL_INDEXES = ("btc_usd",)


@dataclass
class SimOption:
    name: str
    strike: int | float
    option_type: Literal["call", "put"]
    expiry_ms: int
    creation_ms: int
    settlement_period: str
    instrument_id: int
    open_interest: float


def expiry_code(expiry_ms: int) -> str:
    d = datetime.fromtimestamp(expiry_ms / 1000, timezone.utc)
    return f"{d.day}{MONTH_CODES[d.month]}{d.year % 100:02d}"


def _strike_text(strike: int | float) -> str:
    return str(int(strike)) if float(strike).is_integer() else str(strike).replace(".", "d")


def load_options(now_ms: int, currency: str = "BTC", seed: int = 7, scale: int = 1) -> tuple[float, list[SimOption]]:
    """The recorded option list with expiries moved to ``today + recorded days to expiry``.

    ``scale`` multiplies strikes and the index (the 2021 recording has BTC near 32k; the demo
    uses 2 so the surface sits around today's level, near the spot simulators' price path)."""
    data = json.loads(files("mdi_deribit").joinpath("sim_instruments.json").read_text())
    today = datetime.fromtimestamp(now_ms / 1000, timezone.utc).replace(hour=8, minute=0, second=0, microsecond=0)
    rng = random.Random(seed)
    options = []
    for i, (days, recorded_strike, kind, period, created_s) in enumerate(data["options"]):
        strike = recorded_strike * scale
        expiry_ms = int((today + timedelta(days=days)).timestamp() * 1000)
        name = f"{currency}-{expiry_code(expiry_ms)}-{_strike_text(strike)}-{kind}"
        options.append(SimOption(
            name=name, strike=strike, option_type="call" if kind == "C" else "put", expiry_ms=expiry_ms,
            creation_ms=now_ms + created_s * 1000, settlement_period=period, instrument_id=100_000 + i,
            open_interest=round(rng.uniform(0, 2500), 1),
        ))  # fmt: skip
    return float(data["index_price"]) * scale, options


def _norm_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _norm_pdf(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def _tick(price: float) -> float:
    return 0.0001 if price < 0.005 else 0.0005


class SimMarket:
    """Index, DVOL and every listed option; :meth:`step` moves them a little."""

    def __init__(self, now_ms: int, *, currency: str = "BTC", seed: int = 7, scale: int = 1) -> None:
        self.currency = currency
        self.rng = random.Random(seed)
        self.index_price, options = load_options(now_ms, currency, seed, scale)
        self.dvol = 88.5
        self.options: dict[str, SimOption] = {o.name: o for o in options}

    def step(self) -> None:
        self.index_price *= math.exp(self.rng.gauss(0.0, 0.0002))
        self.dvol = min(200.0, max(20.0, self.dvol + self.rng.gauss(0.0, 0.05)))

    def add_option(self, name: str) -> SimOption:
        """Make an option known by name (e.g. a recorded one, possibly already expired)."""
        meta = parse_option_name(name)
        if meta is None:
            raise ValueError(f"not an option name: {name!r}")
        strike = int(meta.strike) if meta.strike == meta.strike.to_integral_value() else float(meta.strike)
        option = SimOption(
            name=name, strike=strike, option_type="call" if meta.option_type == "C" else "put",
            expiry_ms=meta.expiry_ns // 1_000_000, creation_ms=0, settlement_period="month",
            instrument_id=200_000 + len(self.options), open_interest=100.0,
        )  # fmt: skip
        self.options[name] = option
        return option

    def listed(self, now_ms: int) -> list[SimOption]:
        return [o for o in self.options.values() if o.expiry_ms > now_ms]

    # ----- wire shapes ---------------------------------------------------------------------
    def instrument(self, o: SimOption) -> dict[str, Any]:
        """One ``get_instruments`` entry: the 2021 live field order plus newer fields."""
        return {
            "tick_size": 0.0005, "taker_commission": 0.0003, "strike": float(o.strike),
            "settlement_period": o.settlement_period, "quote_currency": self.currency,
            "option_type": o.option_type, "min_trade_amount": 0.1, "maker_commission": 0.0003,
            "kind": "option", "is_active": True, "instrument_name": o.name,
            "expiration_timestamp": o.expiry_ms, "creation_timestamp": o.creation_ms,
            "contract_size": 1.0, "block_trade_commission": 0.00015, "base_currency": self.currency,
            "instrument_id": o.instrument_id, "price_index": f"{self.currency.lower()}_usd",
            "settlement_currency": self.currency, "counter_currency": "USD",
            "tick_size_steps": [{"above_price": 0.005, "tick_size": 0.0005}], "state": "open",
        }  # fmt: skip

    def dvol_frame(self, index_name: str, now_ms: int) -> str:
        data = {"volatility": round(self.dvol, 2), "timestamp": now_ms, "index_name": index_name}
        return notification(f"deribit_volatility_index.{index_name}", data)

    def ticker_frame(self, channel: str, name: str, now_ms: int) -> str:
        return notification(channel, self.ticker_data(self.options[name], now_ms))

    def ticker_data(self, o: SimOption, now_ms: int) -> dict[str, Any]:
        """A ``ticker`` data object in Deribit's wire key order (2022 ``.100ms`` capture)."""
        years = (o.expiry_ms - now_ms) / MS_PER_YEAR
        code = expiry_code(o.expiry_ms)
        underlying_index = f"{self.currency}-{code}" if o.settlement_period == "month" else f"SYN.{self.currency}-{code}"
        if years <= 0:
            return self._expired_data(o, underlying_index, now_ms)
        forward = self.index_price * (1.0 + 0.02 * years)
        iv = self._smile(o.strike, forward, years)
        q = self._quote(o, forward, years, iv)
        return {
            "underlying_price": round(forward, 2), "underlying_index": underlying_index, "timestamp": now_ms,
            "stats": q["stats"], "state": "open", "settlement_price": q["mark"], "open_interest": o.open_interest,
            "min_price": 0.0001, "max_price": round(q["mark"] + 0.05, 4), "mark_price": q["mark"],
            "mark_iv": round(iv * 100, 2), "last_price": q["last"], "interest_rate": 0.0,
            "instrument_name": o.name, "index_price": round(self.index_price, 2), "greeks": q["greeks"],
            "estimated_delivery_price": round(self.index_price, 2), "bid_iv": q["bid_iv"],
            "best_bid_price": q["bid"], "best_bid_amount": q["bid_amount"], "best_ask_price": q["ask"],
            "best_ask_amount": q["ask_amount"], "ask_iv": q["ask_iv"],
        }  # fmt: skip

    def _expired_data(self, o: SimOption, underlying_index: str, now_ms: int) -> dict[str, Any]:
        """After expiry Deribit sends state ``closed``, an empty book with the ``ask_iv`` 500.0
        sentinel and ``estimated_delivery_price`` as the string ``"expired"``."""
        index = round(self.index_price, 2)
        return {
            "underlying_price": index, "underlying_index": underlying_index, "timestamp": now_ms,
            "stats": {"volume": None, "price_change": None, "low": None, "high": None}, "state": "closed",
            "open_interest": 0.0, "min_price": 0.0001, "max_price": 0.015, "mark_price": 0.0, "mark_iv": 70.0,
            "last_price": None, "interest_rate": 0.0, "instrument_name": o.name, "index_price": index,
            "greeks": {"vega": 0.0, "theta": 0.0, "rho": 0.0, "gamma": 0.0, "delta": 0.0},
            "estimated_delivery_price": "expired", "delivery_price": index, "bid_iv": 0.0,
            "best_bid_price": 0.0, "best_bid_amount": 0.0, "best_ask_price": 0.0, "best_ask_amount": 0.0,
            "ask_iv": 500.0,
        }  # fmt: skip

    def _smile(self, strike: float, forward: float, years: float) -> float:
        x = math.log(strike / forward) / math.sqrt(max(years, 1 / 365))
        atm = self.dvol / 100 * (1.0 + 0.1 / (1.0 + 30 * years))
        return min(3.0, max(0.2, atm - 0.05 * x + 0.25 * x * x))

    def _quote(self, o: SimOption, forward: float, years: float, iv: float) -> dict[str, Any]:
        sd = iv * math.sqrt(years)
        d1 = (math.log(forward / o.strike) + 0.5 * sd * sd) / sd
        d2 = d1 - sd
        call = o.option_type == "call"
        usd = (forward * _norm_cdf(d1) - o.strike * _norm_cdf(d2)) if call else (
            o.strike * _norm_cdf(-d2) - forward * _norm_cdf(-d1))
        mark = max(usd / forward, 0.0)
        vega = forward * _norm_pdf(d1) * math.sqrt(years) / 100
        spread = max(_tick(mark), 0.04 * mark)
        bid = math.floor((mark - spread / 2) / _tick(mark)) * _tick(mark)
        ask = math.ceil((mark + spread / 2) / _tick(mark)) * _tick(mark)
        iv_per_btc = forward / vega if vega > 1e-9 else 0.0  # vol points per BTC of price
        quoted = bid >= _tick(mark)
        rng = self.rng
        traded = rng.random() < 0.7
        return {
            "mark": round(mark, 8), "last": round(ask, 4) if traded else None,
            "bid": round(bid, 4) if quoted else 0.0, "ask": round(max(ask, 0.0001), 4),
            "bid_amount": round(rng.uniform(0.1, 60), 1) if quoted else 0.0,
            "ask_amount": round(rng.uniform(0.1, 60), 1),
            "bid_iv": round(max(1.0, iv * 100 - (mark - bid) * iv_per_btc), 2) if quoted else 0.0,
            "ask_iv": round(min(500.0, iv * 100 + (ask - mark) * iv_per_btc), 2),
            "greeks": {
                "vega": round(vega, 5), "theta": round(-forward * _norm_pdf(d1) * iv / (2 * math.sqrt(years)) / 365, 5),
                "rho": round((1 if call else -1) * o.strike * years * _norm_cdf(d2 if call else -d2) / 100, 5),
                "gamma": round(_norm_pdf(d1) / (forward * sd), 5),
                "delta": round(_norm_cdf(d1) if call else _norm_cdf(d1) - 1, 5),
            },
            "stats": {"volume": round(rng.uniform(0, 300), 1), "price_change": round(rng.uniform(-30, 30), 4),
                      "low": round(bid, 4), "high": round(ask, 4)} if traded else
                     {"volume": None, "price_change": None, "low": None, "high": None},
        }  # fmt: skip


def notification(channel: str, data: dict[str, Any]) -> str:
    """A subscription notification in Deribit's wire layout (``NOTIFICATION_PREFIX`` first)."""
    return f'{NOTIFICATION_PREFIX}{channel}","data":{json.dumps(data, separators=(",", ":"))}}}}}'
