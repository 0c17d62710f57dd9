"""``encode_batch`` packs its headers in place around msgpack's output: its records must be the
bytes :func:`frame` gives (the format readers and older segments know), for every kind of event."""

from __future__ import annotations

from mdi.events import EventBase, stamp_seq
from mdi.journal.format import EVENTS, _encoder, decode_payload, encode_batch, frame, iter_records

from journal_support import batch


def _every_kind() -> list[EventBase]:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "parquet"))
    from parquet_support import every_kind  # realistic events of every kind, nested ones too

    events = every_kind()
    for i, event in enumerate(events):
        stamp_seq(event, 10**12 + i)
    return events


def test_encode_batch_gives_the_bytes_of_frame_for_every_kind() -> None:
    for events in (_every_kind(), batch(1, 1), batch(101, 4096), batch(2**40, 3)):
        record = encode_batch(events)
        assert bytes(record) == frame(EVENTS, events[0].seq, events[-1].seq, _encoder.encode(events))
        [(parsed, end)] = list(iter_records(bytes(record), 0))
        assert end == len(record) and (parsed.kind, parsed.first_seq, parsed.last_seq) == (EVENTS, events[0].seq, events[-1].seq)
        assert _encoder.encode(decode_payload(parsed.payload)) == _encoder.encode(events)
