"""``mdi plugins new``: write a separate plugin distribution whose tests pass out of the box.

Templates live in ``templates/<kind>/`` (plus ``templates/common/``) as ``*.tmpl`` files; their
paths and text use ``{{placeholders}}`` (``name``, ``package``, ``dist``, ``Class``, ...).
Plain ``str.replace`` rather than a template engine: generated Python is full of braces and
``$``, and a scaffold should need no dependency.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Literal

Kind = Literal["connector", "pipeline", "sink"]
KINDS: tuple[Kind, ...] = ("connector", "pipeline", "sink")
TEMPLATES = Path(__file__).resolve().parent / "templates"
NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
SECTIONS = {"connector": "connectors", "pipeline": "pipeline", "sink": "sinks"}
TODO = {
    "connector": (
        "- `wire.py`: your venue's messages (frozen msgspec Structs, decoders built once);\n"
        "- `connector.py`: subscriptions and acks, parsing, dedup, pings; `config.py`: `LIVE_URL`;\n"
        "- `sim.py`: the simulator speaking the same protocol (tests and `mdi demo` use it);\n"
        "- `tests/frames/`: frames recorded from the venue, replayed by the tests;\n"
        "- then `mdi demo config.toml` with a `[connectors.NAME]` section streams from the simulator."
    ),
    "pipeline": (
        "- `pipeline.py`: what you consume (`consumes` in `plugin.py`) and what you emit;\n"
        "- `tests/`: feed recorded events through the real graph and read the lake back."
    ),
    "sink": (
        "- `sink.py`: where batches go; `open()` returns the last persisted sequence number;\n"
        "- `delivery` in `plugin.py`: `durable` (the router waits) or `best_effort` (drops, counted)."
    ),
}


class ScaffoldError(ValueError):
    """A name or folder that cannot be used; the message says what to do instead."""


@dataclass(frozen=True)
class Plan:
    """What will be written where."""

    name: str
    kind: Kind
    target: Path

    def values(self) -> dict[str, str]:
        camel = "".join(part.capitalize() for part in self.name.split("_"))
        return {
            "name": self.name,
            "package": f"mdi_{self.name}",
            "dist": f"mdi-{self.name.replace('_', '-')}",
            "Class": camel,
            "kind": self.kind,
            "section": SECTIONS[self.kind],
            "description": f"The {self.name} {self.kind} for mdi",
            "mdi_version": _mdi_version(),
            "todo": TODO[self.kind],
        }


def _mdi_version() -> str:
    try:
        return version("md-ingest")
    except PackageNotFoundError:  # running from a source tree without an install
        return "0.1.0"


def plan(name: str, kind: str, directory: Path | None = None) -> Plan:
    """Check the name, kind and target folder: ``directory`` itself when given (``--dir .`` in
    an empty folder), else ``./mdi-<name>``; it must be new or empty, nothing is overwritten."""
    if not NAME.match(name):
        raise ScaffoldError(f"plugin name {name!r}: use lower-case letters, digits and '_', starting with a letter (e.g. 'okx')")
    if kind not in KINDS:
        raise ScaffoldError(f"--kind {kind!r}: choose one of {', '.join(KINDS)}")
    target = directory if directory is not None else Path.cwd() / f"mdi-{name.replace('_', '-')}"
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ScaffoldError(f"{target} already exists and is not empty: choose another --dir or name")
    return Plan(name=name, kind=kind, target=target)  # type: ignore[arg-type]


def render(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def write(p: Plan) -> list[Path]:
    """Write the distribution; returns the files written (relative to ``p.target``)."""
    values = p.values()
    values["todo"] = values["todo"].replace("NAME", p.name)
    written: list[Path] = []
    for root in (TEMPLATES / "common", TEMPLATES / p.kind):
        for src in sorted(root.rglob("*.tmpl")):
            rel = Path(render(str(src.relative_to(root)), values)).with_suffix("")
            dest = p.target / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(render(src.read_text(encoding="utf-8"), values), encoding="utf-8")
            written.append(rel)
    leftover = [str(f) for f in written if "{{" in (p.target / f).read_text(encoding="utf-8")]
    if leftover:
        raise ScaffoldError(f"internal: unrendered placeholders in {leftover}")
    return written
