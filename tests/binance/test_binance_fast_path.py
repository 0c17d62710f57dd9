"""The one-pass combined-stream path of ``BinanceSession.on_frame`` decides every frame exactly as
the general path (``on_frame_general``): same events, refusals, errors and counters."""

from __future__ import annotations

import json
from typing import Any, Callable

import msgspec
from binance_helpers import FRAMES, make_session

TRICKY = ['"NaN"', '"sNaN"', '"-Infinity"', '"1e999999"', '"1e31"', '"1e-31"', '"0e-50"', '"0"', '"-1"', "null", "true",
          '"x"', '""', '" 1 "', '"1_0"', "1.5", "0", "[]"]  # fmt: skip


def frames() -> list[str]:
    texts = [line.strip() for p in sorted(FRAMES.glob("*")) for line in p.read_text().splitlines() if line.strip()]
    base = {"stream": "btcusdt@markPrice@1s", "data": {"e": "markPriceUpdate", "E": 1796000000000, "s": "BTCUSDT",
            "p": "96991.85", "P": "97008.74", "i": "97036.84", "r": "0.00003802", "T": 1796028800000}}  # fmt: skip
    made = [json.dumps(base)]
    for key in ["p", "P", "i", "r", "E", "T", "s", "e"]:
        for value in TRICKY:
            for drop in (False, True):
                msg = json.loads(json.dumps(base))
                if drop:
                    msg["data"].pop(key)
                else:
                    msg["data"][key] = json.loads(value)
                made.append(json.dumps(msg))
    for stream in ("ethusdt@bookTicker", "btcusdt@markPrice", "!markPrice@arr", None, 5):
        made.append(json.dumps({**base, "stream": stream}))
    made += [json.dumps({**base, "id": 1.5}), json.dumps({**base, "data": None}), json.dumps({**base, "error": 1})]
    return texts + made


def outcome(call: Callable[..., bool], frame: bytes, sess: Any) -> Any:
    out: list[Any] = []
    sess.frame = frame
    try:
        result: Any = call(frame, 1_796_000_000_500_000_000, out)
    except Exception as exc:  # the same exception (type and message) is what must match
        result = (type(exc).__name__, str(exc))
    h = sess.stats.exchange_latency
    return (result, [msgspec.json.encode(e) for e in out], dict(sess.stats.invalid), sess.stats.ignored, h.n, h.total,
            list(h.counts))


def test_fast_and_general_paths_agree_on_every_frame() -> None:
    events = rejected = 0
    for text in frames():
        fast, _ = make_session()
        general, _ = make_session()
        got = outcome(fast.on_frame, text.encode(), fast)
        assert got == outcome(general.on_frame_general, text.encode(), general), text
        events += sum(b'"kind":"mark_price"' in e for e in got[1])
        rejected += sum(b'"kind":"rejected"' in e for e in got[1])
    assert events and rejected
