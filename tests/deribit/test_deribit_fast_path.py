"""The one-pass ticker path of ``DeribitSession.on_frame`` decides every frame exactly as the
general two-pass path (``on_frame_general``): same events, refusals, errors and counters."""

from __future__ import annotations

import json
from typing import Any, Callable

import msgspec
from deribit_testkit import FRAMES, session

TRICKY = ['"NaN"', '"sNaN"', '"-Infinity"', "1e999999", "1e31", "1e-31", "0e-50", "0", "0.0", "-0.0", "-1", "null",
          "true", '"x"', "[]", "{}", "1e30", "1e-30", '"1.5"']  # fmt: skip
NUMERIC = ["underlying_price", "index_price", "mark_price", "mark_iv", "bid_iv", "ask_iv", "best_bid_price",
           "best_ask_price", "best_bid_amount", "best_ask_amount", "open_interest", "timestamp"]  # fmt: skip
GREEKS = ["delta", "gamma", "vega", "theta", "rho"]


def frames() -> list[str]:
    texts = [line.strip() for p in sorted(FRAMES.glob("*.json*")) for line in p.read_text().splitlines() if line.strip()]
    base = json.loads(next(t for t in texts if '"ticker.BTC-30SEP22-60000-C' in t))
    made = []
    for key in NUMERIC + [f"greeks.{g}" for g in GREEKS] + ["instrument_name", "greeks", "params", "data", "channel"]:
        for value in TRICKY:
            for drop in (False, True):
                msg = json.loads(json.dumps(base))
                where, name = msg["params"]["data"], key
                if key.startswith("greeks."):
                    where, name = where["greeks"], key.split(".")[1]
                elif key in ("params", "channel"):
                    where = msg if key == "params" else msg["params"]
                elif key == "data":
                    where = msg["params"]
                if drop:
                    where.pop(name, None)
                else:
                    where[name] = json.loads(value)
                made.append(json.dumps(msg))
    extra = [json.dumps({**base, "id": "x"}), json.dumps({**base, "method": "heartbeat"}), json.dumps({**base, "error": 3}),
             json.dumps({**base, "params": {**base["params"], "channel": "ticker"}}), "[]", "nonsense", '{"method":1}']
    return texts + made + extra


def outcome(call: Callable[..., bool], frame: bytes, sess: Any) -> Any:
    out: list[Any] = []
    sess.frame = frame
    try:
        result: Any = call(frame, 1_796_000_000_500_000_000, out)
    except Exception as exc:  # the same exception (type and message) is what must match
        result = (type(exc).__name__, str(exc))
    h = sess.stats.exchange_latency
    return (result, [msgspec.json.encode(e) for e in out], dict(sess.stats.invalid), sess.stats.ignored,
            dict(sess.deribit.counts), h.n, h.total, list(h.counts), sess.outbox)


def test_fast_and_general_paths_agree_on_every_frame() -> None:
    kinds: set[str] = set()
    for text in frames():
        for frame in (text.encode(), text):
            fast, _ = session()
            general, _ = session()
            got = outcome(fast.on_frame, frame, fast)
            assert got == outcome(general.on_frame_general, frame, general), text
            kinds.update(b'"kind":"' + e.split(b'"kind":"')[1].split(b'"')[0] + b'"' for e in got[1])  # type: ignore[misc]
            kinds.update(["error"] if isinstance(got[0], tuple) else [])
    assert {b'"kind":"option_ticker"', b'"kind":"rejected"', "error"} <= kinds  # every outcome was exercised
