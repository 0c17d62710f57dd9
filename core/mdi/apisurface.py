"""The public plugin surface as text, compared with its committed snapshot.

``docs/api-surface.json`` holds ``{"api_version": ..., "surface": {name: description}}`` for every
name in :data:`mdi.api.__all__`, every hook in :mod:`mdi.hookspecs`, the documented helpers of
:mod:`mdi.testing` and the pytest plugin's fixtures. A test compares it with the live surface,
so a change cannot land unnoticed. One command refreshes it after a legitimate change:
``python -m mdi.apisurface --write --note "what changed for plugin authors" [--major]`` bumps
``API_VERSION`` in ``core/mdi/api.py`` (MINOR, or MAJOR), appends the note and the list of
changed names to ``docs/api-changelog.md`` and writes the snapshot; without ``--note`` it refuses
a changed surface. Descriptions are signatures with annotations as written (string annotations, so
they do not depend on import order) and field lists with defaults.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import inspect
import json
import re
import sys
from pathlib import Path
from typing import Any

import msgspec

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = ROOT / "docs" / "api-surface.json"
CHANGELOG = ROOT / "docs" / "api-changelog.md"
# Helpers plugin tests may use, beyond mdi.api (module -> names).
TESTING = {
    "mdi.testing.graph": ["run_graph", "GraphRun", "read_lake", "build_graph", "stream_dir"],
    "mdi.testing.harness": ["ConnectorHarness", "read_frames"],
    "mdi.testing.sources": ["events_source", "EventsSource", "EventsSourcePlugin", "SourceConfig"],
    "mdi.testing.redis_server": ["RedisServer"],
    "mdi.testing.capture": ["replay_capture", "received_frames"],
}
PYTEST_PLUGIN = "mdi.testing.pytest_plugin"
_ADDRESS = re.compile(r" at 0x[0-9a-f]+")


def _clean(text: str) -> str:
    return _ADDRESS.sub("", text)


def _signature(obj: Any) -> str:
    try:
        return _clean(str(inspect.signature(obj)))
    except (TypeError, ValueError):
        return "(...)"


def _default(value: Any) -> str:
    if value is msgspec.NODEFAULT or value is dataclasses.MISSING:
        return ""
    if type(value).__name__ == "Factory" or callable(value) and getattr(value, "__name__", "") == "<lambda>":
        return " = <factory>"
    return _clean(f" = {value!r}")


def _fields(cls: type) -> list[str]:
    """Fields of a msgspec Struct or dataclass, with annotations and defaults."""
    hints: dict[str, Any] = {}
    for base in reversed(cls.__mro__):
        hints.update(getattr(base, "__annotations__", {}))
    if isinstance(cls, type) and issubclass(cls, msgspec.Struct):
        names = cls.__struct_fields__
        defaults = cls.__struct_defaults__
        pad = len(names) - len(defaults)
        return [f"{n}: {hints.get(n, '?')}{_default(defaults[i - pad]) if i >= pad else ''}" for i, n in enumerate(names)]
    out = []
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]  # is_dataclass checked by the caller
        default = f.default if f.default is not dataclasses.MISSING else ("<factory>" if f.default_factory is not dataclasses.MISSING else dataclasses.MISSING)
        out.append(f"{f.name}: {f.type}" + (" = <factory>" if default == "<factory>" else _default(default)))
    return out


def _members(cls: type) -> list[str]:
    out = []
    for name, value in sorted(vars(cls).items()):
        if name.startswith("_") and name != "__init__":
            continue
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        if inspect.isfunction(value):
            out.append(f"def {name}{_signature(value)}")
        elif isinstance(value, property):
            out.append(f"property {name}")
        elif name in getattr(cls, "__annotations__", {}) and not dataclasses.is_dataclass(cls) and not issubclass(cls, msgspec.Struct):
            out.append(f"{name}: {cls.__annotations__[name]}{_default(value)}")
    return out


def describe(obj: Any) -> str:
    """One stable text per public object: what a plugin depends on."""
    if inspect.isclass(obj):
        bases = ", ".join(b.__name__ for b in obj.__bases__ if b is not object)
        lines = [f"class {obj.__name__}({bases})"]
        if dataclasses.is_dataclass(obj) or issubclass(obj, msgspec.Struct):
            lines += [f"  field {f}" for f in _fields(obj)]
        for name, ann in sorted(getattr(obj, "__annotations__", {}).items()):
            if "ClassVar" in str(ann):
                lines.append(f"  classvar {name}: {ann}")
        lines += [f"  {m}" for m in _members(obj)]
        return "\n".join(lines)
    if inspect.isfunction(obj) or inspect.isbuiltin(obj):
        return f"def {obj.__name__}{_signature(obj)}"
    return _clean(f"{type(obj).__name__} {obj!r}")


def surface() -> dict[str, str]:
    """The live surface: ``name -> description`` for everything listed in the module docstring."""
    import mdi.api
    import mdi.hookspecs

    out: dict[str, str] = {}
    for name in mdi.api.__all__:
        if name != "API_VERSION":
            out[f"mdi.api.{name}"] = describe(getattr(mdi.api, name))
    for name, obj in vars(mdi.hookspecs).items():
        if name.startswith("mdi_") and inspect.isfunction(obj):
            out[f"mdi.hookspecs.{name}"] = describe(obj)
    for module_name, names in TESTING.items():
        module = importlib.import_module(module_name)
        for name in names:
            out[f"{module_name}.{name}"] = describe(getattr(module, name))
    plugin = importlib.import_module(PYTEST_PLUGIN)
    for name, obj in vars(plugin).items():
        if name.startswith(("mdi_", "anyio_")) and callable(obj):
            out[f"fixture {name}"] = "fixture"
    return dict(sorted(out.items()))


def load_snapshot(path: Path = SNAPSHOT) -> dict[str, Any]:
    return dict(json.loads(path.read_text(encoding="utf-8")))


def diff(old: dict[str, str], new: dict[str, str]) -> list[str]:
    """Human-readable differences: added, removed and changed names."""
    lines = [f"+ {k}" for k in sorted(new.keys() - old.keys())]
    lines += [f"- {k}" for k in sorted(old.keys() - new.keys())]
    lines += [f"~ {k}" for k in sorted(old.keys() & new.keys()) if old[k] != new[k]]
    return lines


API_MODULE = ROOT / "core" / "mdi" / "api.py"
_VERSION_LINE = re.compile(r'^API_VERSION = "(\d+)\.(\d+)"$', re.M)


def next_version(current: str, major: bool) -> str:
    """``1.3`` -> ``1.4`` (an addition) or ``2.0`` (``major``: something a plugin may rely on changed)."""
    ma, mi = (int(x) for x in current.split("."))
    return f"{ma + 1}.0" if major else f"{ma}.{mi + 1}"


def bump(note: str, major: bool, changes: list[str], api_module: Path = API_MODULE, changelog: Path = CHANGELOG) -> str:
    """Write the next ``API_VERSION`` into ``api.py`` and its entry into the changelog."""
    text = api_module.read_text(encoding="utf-8")
    found = _VERSION_LINE.search(text)
    if found is None:
        raise SystemExit(f"{api_module}: no line 'API_VERSION = \"MAJOR.MINOR\"'")
    new = next_version(f"{found.group(1)}.{found.group(2)}", major)
    api_module.write_text(_VERSION_LINE.sub(f'API_VERSION = "{new}"', text, count=1), encoding="utf-8")
    listed = "\n".join(f"- `{c}`" for c in changes)
    with changelog.open("a", encoding="utf-8") as f:
        f.write(f"\n## {new}\n\n{note.strip()}\n\n{listed}\n")
    return new


def write_snapshot(
    path: Path = SNAPSHOT, changelog: Path = CHANGELOG, *, note: str = "", major: bool = False, api_module: Path = API_MODULE
) -> str:
    """Write the live surface. A changed surface needs a new version and its changelog note:
    with ``note`` they are written here (MINOR, or MAJOR with ``major``), else this refuses."""
    import mdi.api

    version = mdi.api.API_VERSION
    live = surface()
    if path.exists():
        old = load_snapshot(path)
        changes = diff(old["surface"], live)
        if changes and old["api_version"] == version:
            if not note:
                raise SystemExit(
                    f"the public API changed but API_VERSION is still {version}. Say what changed for plugin "
                    f"authors: python -m mdi.apisurface --write --note '...' [--major] (MINOR for additions, "
                    f"--major for removals or incompatible changes) bumps the version and adds the changelog "
                    f"entry. Changes:\n" + "\n".join(changes)
                )
            version = mdi.api.API_VERSION = bump(note, major, changes, api_module, changelog)
    if f"## {version}" not in changelog.read_text(encoding="utf-8"):
        raise SystemExit(f"{changelog} has no '## {version}' entry: say what changed for plugin authors first")
    path.write_text(json.dumps({"api_version": version, "surface": live}, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return f"wrote {path} (API {version}, {len(live)} names)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mdi.apisurface", description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="refresh docs/api-surface.json")
    parser.add_argument("--note", default="", help="with --write: the changelog entry for a changed surface")
    parser.add_argument("--major", action="store_true", help="with --note: an incompatible change (MAJOR bump)")
    args = parser.parse_args(argv)
    if args.write:
        print(write_snapshot(note=args.note, major=args.major))
        return 0
    changes = diff(load_snapshot()["surface"], surface())
    print("\n".join(changes) or "public API unchanged")
    return 1 if changes else 0


if __name__ == "__main__":
    sys.exit(main())
