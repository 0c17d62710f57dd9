"""JSON-lines logging parsed back, the text format, and RateLimitedLog's counts in the output."""

from __future__ import annotations

import io
import json
import logging
import re
import time
import warnings
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Iterator

import pytest

from mdi import logutil
from mdi.logs import configure_logging
from mdi.logutil import RateLimitedLog

RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """configure_logging changes process-wide state: put the root logger back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    interval = logutil._default_interval
    buf = io.StringIO()
    try:
        yield buf
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        logging.captureWarnings(False)
        logutil.set_default_interval(interval)


def lines(buf: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buf.getvalue().splitlines()]


class Opaque:
    def __str__(self) -> str:
        return "<opaque thing>"


def test_json_fields_and_extras(stream: io.StringIO) -> None:
    configure_logging("INFO", "json", stream=stream)
    before = datetime.now(timezone.utc)
    logging.getLogger("mdi.connector.kraken").warning(
        "connection lost after %d s", 12,
        extra={"venue": "kraken", "price": Decimal("64000.10"), "attempt": 3, "delay_s": 0.5,
               "tags": ["a", "b"], "ctx": {"k": 1}, "thing": Opaque(), "ts": "not mine", "color_message": "\x1b[1m"},
    )
    logging.getLogger("mdi.quiet").debug("below the level")
    (doc,) = lines(stream)
    assert RFC3339_UTC.match(doc["ts"])
    assert before.replace(microsecond=0) <= datetime.fromisoformat(doc["ts"]) <= datetime.now(timezone.utc)
    assert doc["level"] == "WARNING"
    assert doc["logger"] == "mdi.connector.kraken"
    assert doc["msg"] == "connection lost after 12 s"
    assert doc["venue"] == "kraken"
    assert doc["price"] == "64000.10"  # exact: Decimal as its text, never a float
    assert (doc["attempt"], doc["delay_s"], doc["tags"], doc["ctx"]) == (3, 0.5, ["a", "b"], {"k": 1})
    assert doc["thing"] == "<opaque thing>"
    assert doc["ts_"] == "not mine"  # an extra can never overwrite a base field
    assert "color_message" not in doc and "exc" not in doc
    assert list(doc)[:4] == ["ts", "level", "logger", "msg"]


def test_json_exception_as_text(stream: io.StringIO) -> None:
    configure_logging("DEBUG", "json", stream=stream)
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("mdi.sink.parquet").exception("write failed", extra={"sink": "parquet"})
    (doc,) = lines(stream)
    assert doc["level"] == "ERROR"
    assert doc["sink"] == "parquet"
    assert doc["exc"].startswith("Traceback (most recent call last):")
    assert doc["exc"].endswith("ValueError: boom")


def test_text_format(stream: io.StringIO) -> None:
    configure_logging("info", "text", stream=stream)
    logging.getLogger("mdi.runtime").info("router starts", extra={"first_seq": 42, "error": "no route to host"})
    (line,) = stream.getvalue().splitlines()
    assert re.match(r"^\d{4}-\d{2}-\d{2}T\S+Z INFO    mdi\.runtime: router starts first_seq=42 error='no route to host'$", line)


def test_reconfigure_replaces_only_its_own_handler(stream: io.StringIO) -> None:
    other = logging.NullHandler()
    logging.getLogger().addHandler(other)
    configure_logging(stream=stream)
    handler = configure_logging("WARNING", stream=stream)
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_mdi_handler", False)]
    assert ours == [handler]
    assert other in logging.getLogger().handlers
    assert logging.getLogger().level == logging.WARNING


def test_warnings_are_logged(stream: io.StringIO) -> None:
    configure_logging(stream=stream)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("deprecated knob", DeprecationWarning)
    (doc,) = lines(stream)
    assert doc["logger"] == "py.warnings"
    assert "deprecated knob" in doc["msg"]


@pytest.mark.parametrize(("kwargs", "match"), [({"level": "LOUD"}, "unknown log level"), ({"fmt": "xml"}, "unknown log format"),
                                               ({"rate_limit_interval": -1.0}, "rate_limit_interval")])
def test_bad_settings(stream: io.StringIO, kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        configure_logging(stream=stream, **kwargs)


def test_rate_limited_counts_reach_the_json(stream: io.StringIO) -> None:
    configure_logging(stream=stream, rate_limit_interval=0.2)
    limited = RateLimitedLog(logging.getLogger("mdi.connector.binance"))
    assert limited.interval == 0.2  # the configured default
    for i in range(5):
        limited.warning("malformed", "malformed frame %d", i)
    limited.error("auth", "auth failed")  # another key is limited on its own
    time.sleep(0.25)
    limited.warning("malformed", "malformed frame %d", 5)
    docs = lines(stream)
    assert [(d["msg"], d["key"], d["suppressed"], d["level"]) for d in docs] == [
        ("malformed frame 0", "malformed", 0, "WARNING"),
        ("auth failed", "auth", 0, "ERROR"),
        ("malformed frame 5", "malformed", 4, "WARNING"),
    ]


def test_explicit_interval_wins(stream: io.StringIO) -> None:
    configure_logging(stream=stream, rate_limit_interval=0.2)
    assert RateLimitedLog(logging.getLogger("x"), interval=60.0).interval == 60.0
