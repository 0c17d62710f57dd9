"""Loading and validating ``config.toml``.

The core owns the file's shape: ``[connectors.<name>]``, ``[pipeline.<name>]``, ``[sinks.<name>]``
(each decoded with the type its plugin declares) and the core sections ``[router]``,
``[supervisor]``, ``[http]``, ``[logging]``, ``[service]``, ``[journal]``. Every error names the file, the full key path and
what was expected, so a user can fix it without reading code.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin, get_type_hints

import msgspec

from mdi.instance import check_instance, host_instance
from mdi.journal.config import JournalConfig

SECTION_KINDS: dict[str, str] = {"connectors": "connector", "pipeline": "pipeline", "sinks": "sink"}


class ConfigError(Exception):
    """A configuration problem, phrased for the person editing the file."""


# Constrained types: what cannot run is refused when the file is read (``mdi config check`` and
# before ``mdi run`` starts anything), with msgspec's message and the key path.
AtLeastOne = Annotated[int, msgspec.Meta(ge=1)]
NonNegativeInt = Annotated[int, msgspec.Meta(ge=0)]
Positive = Annotated[float, msgspec.Meta(gt=0)]
NonNegative = Annotated[float, msgspec.Meta(ge=0)]
Port = Annotated[int, msgspec.Meta(ge=0, le=65535)]  # 0: the OS picks a free port


class RouterConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """Channel capacities are in events; batches are whatever a frame or a router pass holds."""

    ingress_capacity: AtLeastOne = 200_000
    derived_capacity: AtLeastOne = 20_000
    sink_capacity: AtLeastOne = 200_000
    pipeline_capacity: AtLeastOne = 50_000
    max_batch: AtLeastOne = 8192


class SupervisorConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """A component may restart ``max_restarts`` times within ``window`` seconds."""

    max_restarts: NonNegativeInt = 5
    window: Positive = 300.0
    backoff_initial: NonNegative = 0.5
    backoff_max: NonNegative = 30.0
    shutdown_timeout: Positive = 30.0


class HttpConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: Port = 9100


class LoggingConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    format: Literal["json", "text"] = "json"
    rate_limit_interval: NonNegative = 10.0


class ServiceConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """Who this process is among several writing one lake and one Redis (see docs/scaleout.md).

    ``instance`` defaults to the short host name; it is in every Parquet file's name and rows,
    and in this instance's watermark and Redis keys, so it must be unique among the instances.
    """

    instance: str = ""

    def __post_init__(self) -> None:
        if self.instance:
            try:
                check_instance(self.instance)
            except ValueError as exc:
                raise ValueError(f"[service] {exc}") from None

    @property
    def name(self) -> str:
        return self.instance or host_instance()


class CaptureConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """Raw frame capture (docs/capture.md): every frame received and sent, per connector."""

    enabled: bool = False
    root: str = "capture"
    rotate_bytes: int = 64 * 1024 * 1024  # uncompressed bytes per segment
    rotate_seconds: float = 3600.0
    retention_bytes: int = 0  # compressed bytes kept per connector; 0 = no limit
    retention_seconds: float = 0.0  # segment age; 0 = no limit
    buffer_bytes: int = 64 * 1024 * 1024  # queued for the writer thread; past it records drop (counted)


class _CoreSections(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    service: ServiceConfig = ServiceConfig()
    connectors: dict[str, dict[str, Any]] = {}
    pipeline: dict[str, dict[str, Any]] = {}
    sinks: dict[str, dict[str, Any]] = {}
    router: RouterConfig = RouterConfig()
    supervisor: SupervisorConfig = SupervisorConfig()
    http: HttpConfig = HttpConfig()
    logging: LoggingConfig = LoggingConfig()
    capture: CaptureConfig = CaptureConfig()
    journal: JournalConfig = JournalConfig()


@dataclass
class Config:
    """The whole file: core sections decoded, plugin sections still raw (decoded at assembly)."""

    source: str
    service: ServiceConfig = field(default_factory=ServiceConfig)
    router: RouterConfig = field(default_factory=RouterConfig)
    supervisor: SupervisorConfig = field(default_factory=SupervisorConfig)
    http: HttpConfig = field(default_factory=HttpConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    capture: CaptureConfig = field(default_factory=CaptureConfig)
    journal: JournalConfig = field(default_factory=JournalConfig)
    # section ("connectors" | "pipeline" | "sinks") -> component name -> raw table
    components: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def enabled(self, section: str) -> dict[str, dict[str, Any]]:
        """Component tables of ``section`` without ``enabled = false`` ones (key removed)."""
        out: dict[str, dict[str, Any]] = {}
        for name, table in self.components.get(section, {}).items():
            table = dict(table)
            enabled = table.pop("enabled", True)
            if enabled is True:
                out[name] = table
            elif enabled is not False:
                raise ConfigError(
                    f"{self.source}: [{section}.{name}] Expected `bool`, got "
                    f"`{type(enabled).__name__}` - at `{section}.{name}.enabled`"
                )
        return out


_FIELD_PROBLEM = re.compile(r"^`(\w+)`: (.*?)(?: - at `\$`)?$", re.S)


def _rewrite_path(message: str, prefix: str) -> str:
    """msgspec says ``- at `$.a.b` ``; we say ``- at `prefix.a.b` `` (the TOML key path).

    A plugin's ``__post_init__`` names its key by starting the message with it (``"`root`: ..."``):
    msgspec can only say ``- at `$` `` for those, so the key is moved into the path.
    """
    field_problem = _FIELD_PROBLEM.match(message)
    if field_problem:
        key, why = field_problem.groups()
        return f"{why} - at `{prefix + '.' if prefix else ''}{key}`"
    if "`$" in message:
        return message.replace("`$", f"`{prefix}" if prefix else "`", 1).replace("`.", "`", 1)
    return f"{message} - at `{prefix}`" if prefix else message


def load_config(path: str | Path) -> Config:
    """Read and decode the core sections; raise :class:`ConfigError` with file and key path."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{p}: file not found (give the path of a config.toml)") from exc
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read: {exc}") from exc
    return parse_config(text, str(p))


def parse_config(text: str, source: str = "<config>") -> Config:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    unknown = sorted(set(raw) - set(_CoreSections.__struct_fields__))
    if unknown:
        known = list(_CoreSections.__struct_fields__)
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, known, n=1)
            hints.append(f"[{key}]" + (f" (did you mean [{close[0]}]?)" if close else ""))
        raise ConfigError(
            f"{source}: unknown section {', '.join(hints)}; known sections: "
            + ", ".join(f"[{k}]" for k in known)
        )
    try:
        core = msgspec.convert(raw, _CoreSections)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{source}: {_rewrite_path(str(exc), '')}{choices_hint(str(exc), _CoreSections)}") from exc
    return Config(
        source=source,
        service=core.service,
        router=core.router,
        supervisor=core.supervisor,
        http=core.http,
        logging=core.logging,
        capture=core.capture,
        journal=core.journal,
        components={"connectors": core.connectors, "pipeline": core.pipeline, "sinks": core.sinks},
    )


def decode_section(config: Config, section: str, name: str, table: dict[str, Any], type_: type[Any]) -> Any:
    """Decode one plugin section with the plugin's Struct type; errors carry the key path."""
    try:
        return msgspec.convert(table, type_)
    except msgspec.ValidationError as exc:
        detail = _rewrite_path(_name_field(str(exc), type_), f"{section}.{name}") + _field_hint(str(exc), table, type_) + choices_hint(str(exc), type_)
        raise ConfigError(f"{config.source}: [{section}.{name}] {detail}") from exc


def _field_hint(message: str, table: dict[str, Any], type_: type[Any]) -> str:
    """For an unknown key, name the closest valid key and list the valid ones."""
    if "unknown field" not in message:
        return ""
    fields = list(getattr(type_, "__struct_fields__", ()))
    unknown = message.split("`")[1] if message.count("`") >= 2 else ""
    return f"{suggest(unknown, fields)}; valid keys: {', '.join(fields)}"


_FIELD_FIRST = re.compile(r"^(\w+) (must|should|cannot|is) ")


def _name_field(message: str, type_: type[Any]) -> str:
    """``stale_after must be > 0`` from a plugin's ``__post_init__`` names a field of the config
    type: say so as ``"`stale_after`: ..."``, so :func:`_rewrite_path` puts it in the key path."""
    match = _FIELD_FIRST.match(message)
    if match and match.group(1) in getattr(type_, "__struct_fields__", ()):
        return f"`{match.group(1)}`: {message}"
    return message


_AT_PATH = re.compile(r"- at `\$((?:\.\w+)+)`")


def choices_hint(message: str, root: type[Any]) -> str:
    """For a value outside a ``Literal``, ``; expected one of 'a', 'b'`` (msgspec names none)."""
    match = _AT_PATH.search(message)
    if "Invalid enum value" not in message or match is None:
        return ""
    type_: Any = root
    for part in match.group(1).strip(".").split("."):
        try:
            type_ = get_type_hints(type_).get(part)
        except TypeError:  # not a class with annotations (a dict of tables, ...)
            return ""
        if type_ is None:
            return ""
    if get_origin(type_) is not Literal:
        return ""
    return "; expected one of " + ", ".join(repr(choice) for choice in get_args(type_))


def suggest(name: str, known: list[str]) -> str:
    """`` (did you mean 'x'?)`` or an empty string."""
    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
