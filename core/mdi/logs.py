"""Logging: JSON lines for machines (the default), ``key=value`` text for humans.

Plain stdlib logging, so every library's records (uvicorn, redis, httpx) come out in the same
format. Structured context goes in ``extra={...}``; every extra attribute becomes a field of the
JSON object (``RateLimitedLog`` adds ``key`` and ``suppressed``). Values are encoded by msgspec:
``Decimal`` prices come out as exact strings, anything msgspec cannot encode as ``str(value)``.
"""

from __future__ import annotations

import logging
import sys
from datetime import datetime, timezone
from typing import Any, TextIO

import msgspec

from mdi import logutil

# Attributes every LogRecord has; anything else on a record came from ``extra``.
_STANDARD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's ANSI-coloured duplicate of ``msg``
}
_BASE_FIELDS = ("ts", "level", "logger", "msg", "exc", "stack")
_MARK = "_mdi_handler"  # set on handlers installed here, so reconfiguring replaces only ours


def rfc3339(created: float) -> str:
    """``2024-05-01T12:00:00.123456Z``: UTC, microseconds (what a LogRecord carries)."""
    return datetime.fromtimestamp(created, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record_extras(record: logging.LogRecord) -> dict[str, Any]:
    """The ``extra`` attributes of a record, in the order they were given."""
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD_ATTRS and not k.startswith("_")}


def _fallback(obj: Any) -> str:
    return str(obj)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts level logger msg``, then every extra, then ``exc``/``stack``.

    An extra named like a base field is written as ``<name>_`` so it can never overwrite one.
    """

    def __init__(self) -> None:
        super().__init__()
        self._encoder = msgspec.json.Encoder(enc_hook=_fallback)

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": rfc3339(record.created),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record_extras(record).items():
            doc[key + "_" if key in _BASE_FIELDS else key] = value
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            doc["exc"] = record.exc_text
        if record.stack_info:
            doc["stack"] = self.formatStack(record.stack_info)
        return self._encode(doc)

    def _encode(self, doc: dict[str, Any]) -> str:
        try:
            return self._encoder.encode(doc).decode()
        except (TypeError, ValueError, OverflowError):  # e.g. a dict with tuple keys in an extra
            return self._encoder.encode({k: v if isinstance(v, (str, int, float, bool)) or v is None else str(v) for k, v in doc.items()}).decode()


def _text_value(value: Any) -> str:
    """Quote strings that would otherwise be ambiguous in ``key=value`` pairs."""
    if isinstance(value, str) and (not value or " " in value or "=" in value):
        return repr(value)
    return str(value)


class TextFormatter(logging.Formatter):
    """``2024-05-01T12:00:00.123456Z WARNING mdi.connector.kraken: msg key=value ...``."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{rfc3339(record.created)} {record.levelname:<7} {record.name}: {record.getMessage()}"
        extras = " ".join(f"{k}={_text_value(v)}" for k, v in record_extras(record).items())
        if extras:
            line = f"{line} {extras}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        if record.stack_info:
            line = f"{line}\n{self.formatStack(record.stack_info)}"
        return line


def _level(level: str | int) -> int:
    if isinstance(level, int):
        return level
    value = logging.getLevelName(level.upper())
    if not isinstance(value, int):
        raise ValueError(f"unknown log level {level!r}; use DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return value


def configure_logging(
    level: str | int = "INFO",
    fmt: str = "json",
    rate_limit_interval: float = 10.0,
    *,
    stream: TextIO | None = None,
) -> logging.Handler:
    """Install one stderr handler on the root logger (replacing one installed earlier by this
    function, leaving others alone), set the root level, route ``warnings`` into logging, and set
    the default interval of :class:`mdi.logutil.RateLimitedLog`. Returns the handler."""
    if fmt not in ("json", "text"):
        raise ValueError(f"unknown log format {fmt!r}; use 'json' or 'text'")
    if rate_limit_interval < 0:
        raise ValueError(f"rate_limit_interval must be >= 0, got {rate_limit_interval}")
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    setattr(handler, _MARK, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(_level(level))
    logging.captureWarnings(True)
    logutil.set_default_interval(rate_limit_interval)
    return handler


def mdi_handler() -> logging.Handler | None:
    """The handler :func:`configure_logging` installed, if it has run."""
    for handler in logging.getLogger().handlers:
        if getattr(handler, _MARK, False):
            return handler
    return None


def active_format() -> str | None:
    """``json`` or ``text`` once :func:`configure_logging` has run, else None (messages for the
    person at the terminal follow it: with JSON logs every line mdi writes is JSON)."""
    handler = mdi_handler()
    if handler is None:
        return None
    return "json" if isinstance(handler.formatter, JsonFormatter) else "text"


__all__ = ["JsonFormatter", "TextFormatter", "active_format", "configure_logging", "mdi_handler", "record_extras", "rfc3339"]
