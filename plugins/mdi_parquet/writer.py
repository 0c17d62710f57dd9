"""The writing half of the sink: events -> Arrow tables -> atomically committed files.

:meth:`LakeWriter.convert` runs on the event loop (the sink calls it in small slices as events
arrive, while they are still in the CPU cache): for flat streams it writes the events as text rows,
in C (see :mod:`mdi_parquet.rows`), which holds the GIL wherever it runs. Every other method blocks and runs in a worker thread, one call
at a time: :meth:`LakeWriter.parse` (Arrow's CSV reader, without the GIL), :meth:`assemble`
(concatenation, hour split) and :meth:`commit` (ZSTD and fsync, without the GIL), so the event
loop keeps routing meanwhile. Building and committing are separate steps: a commit that fails
half-way returns what it wrote, and only the rest is retried, so no row is ever written twice and
none is dropped.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import mdi
from mdi.events import EventBase
from mdi.stats import DEFAULT_LATENCY_BUCKETS, Histogram
from mdi_parquet.columns import Issues
from mdi.instance import host_instance
from mdi_parquet.index import LAST_SEQ_KEY, Head, LakeIndex, Recovery, recover, write_index
from mdi_parquet.layout import HOUR_NS, META_PREFIX, other_version_prefixes, part_name, partition_dir, version_prefix
from mdi_parquet.schema import SCHEMA_VERSION, Scales, StreamSchema, builtin_schemas, differences, stream_schema
from mdi_parquet.store import IO_ERRORS, LocalStore, Store

WRITE_ERRORS = IO_ERRORS
INSTANCE_COLUMN = "instance"  # every row says which instance wrote it (see mdi.instance)
LATENCY_SAMPLE_STRIDE = 64  # one latency sample per this many rows (see Latency.samples)


class SchemaMismatch(ValueError):
    """The configured column types differ from those already in the lake."""


@dataclass
class PendingFile:
    """One file's worth of rows (one stream, one hour), built and waiting to be committed."""

    schema: StreamSchema
    rel_dir: str
    table: pa.Table
    first_seq: int
    last_seq: int


@dataclass
class Latency:
    """Receive -> visible latency of one file's rows, bucketed like :class:`Histogram`.

    ``samples`` holds every :data:`LATENCY_SAMPLE_STRIDE`-th row's latency (seconds), so a
    histogram that keeps samples (benchmarks) gets exact percentiles without a value per row.
    """

    counts: list[int]
    total_s: float
    n: int
    samples: list[float] = field(default_factory=list)

    def add_to(self, histogram: Histogram) -> None:
        for i, count in enumerate(self.counts):
            histogram.counts[i] += count
        histogram.total += self.total_s
        histogram.n += self.n
        if histogram.samples is not None:
            histogram.samples.extend(self.samples)


@dataclass
class Written:
    stream: str
    rel_path: str
    rows: int
    size: int
    last_seq: int
    latency: Latency
    renamed: bool  # the natural name was taken (should never happen; counted and logged)


@dataclass
class Converted:
    """One slice of a stream's events, on its way into a file: text rows (flat streams; see
    :mod:`mdi_parquet.rows`), text rows being parsed by Arrow in the writer thread (``parsing``),
    or an Arrow table (the other streams)."""

    rows: int
    text: bytes = b""
    table: pa.Table | None = None
    issues: Issues | None = None
    parsing: Future[tuple[pa.Table, Issues]] | None = None

    @property
    def unparsed(self) -> bool:
        return self.table is None and self.parsing is None


@dataclass
class Built:
    files: list[PendingFile]
    issues: dict[str, Issues] = field(default_factory=dict)  # stream -> values not stored exactly


@dataclass
class CommitResult:
    written: list[Written]  # a prefix of the pending files, in order
    error: Exception | None


class LakeWriter:
    """``root`` is a directory or a :class:`~mdi_parquet.store.Store` (e.g. an S3 bucket)."""

    def __init__(
        self,
        root: Path | Store,
        scales: Scales,
        compression_level: int,
        clock: Callable[[], int],
        latency_bounds: tuple[float, ...] = DEFAULT_LATENCY_BUCKETS,
        *,
        instance: str | None = None,
    ) -> None:
        self.store: Store = LocalStore(root) if isinstance(root, Path) else root
        self.instance = instance or host_instance()
        self.vprefix = version_prefix(SCHEMA_VERSION)
        self.vdir = f"{self.store.url}/{self.vprefix}"  # for logs
        self.scales = scales
        self.compression_level = compression_level
        self.clock = clock
        self.latency_bounds_ns = [int(b * 1e9) for b in latency_bounds]
        self.heads: dict[str, Head] = {}
        self.watermark: int | None = None
        self._schemas: dict[type[EventBase], StreamSchema] = {}

    # ----- start and stop -----------------------------------------------------------------
    def recover(self) -> Recovery:
        """Clean this instance's crash leftovers, find its watermark (all schema versions),
        rewrite its index."""
        store, instance = self.store, self.instance
        found = recover(store, self.vprefix, instance)
        self._check_types(found.heads)
        others = other_version_prefixes(store.subdirs(""), SCHEMA_VERSION)
        marks = [found.watermark, *(recover(store, v, instance, clean=False).watermark for v in others)]
        self.heads = found.heads
        self.watermark = max((m for m in marks if m is not None), default=None)
        found.watermark = self.watermark
        self._write_index([])
        return found

    def _check_types(self, heads: dict[str, Head]) -> None:
        """Refuse to mix column types within a stream (e.g. after ``decimal_scale`` changed).

        DuckDB reads a glob with the first file's types and silently casts the others, so a
        stream whose files disagree on a decimal scale would be rounded at query time.
        """
        known = {schema.stream: schema for schema in builtin_schemas(self.scales).values()}
        problems = []
        for stream, head in sorted(heads.items()):
            if stream in known:
                lake = self.store.schema(f"{self.vprefix}/{head.file}")
                problems += [f"{stream}.{d}" for d in differences(lake, known[stream].arrow)]
        if problems:
            raise SchemaMismatch(
                "the lake's files have other column types than this configuration would write: "
                + "; ".join(problems)
                + ". Put the old decimal_scale/column_scales back, or record the new types under a new root "
                "(files of one stream must agree: DuckDB casts every file to the first one's type)"
            )

    def close(self) -> None:
        """Record that nothing is pending, so the next start reads only the heads."""
        self._write_index([])

    # ----- building -----------------------------------------------------------------------
    def schema_for(self, event_type: type[EventBase]) -> StreamSchema:
        schema = self._schemas.get(event_type)
        if schema is None:
            schema = self._schemas[event_type] = stream_schema(event_type, self.scales)
        return schema

    def build(self, batches: dict[type[EventBase], list[EventBase]]) -> Built:
        """Tables for each stream's buffered events, split into one pending file per hour."""
        return self.assemble({event_type: [self.convert(event_type, events)] for event_type, events in batches.items()})

    def convert(self, event_type: type[EventBase], events: Sequence[EventBase]) -> Converted:
        """One slice of a stream's events in the form that waits for the file (see module doc)."""
        schema = self.schema_for(event_type)
        if schema.rows is not None:
            return Converted(rows=len(events), text=schema.encode_rows(events))
        table, issues = schema.build(events)
        return Converted(rows=len(events), table=table, issues=issues)

    def assemble(self, parts: dict[type[EventBase], list[Converted]]) -> Built:
        """Each stream's converted slices, in order, as pending files (one per hour)."""
        built = Built(files=[])
        for event_type, slices in parts.items():
            if not slices:
                continue
            schema = self.schema_for(event_type)
            tables: list[pa.Table] = []
            merged = Issues()
            for table, issues in self._tables(schema, slices):
                tables.append(table)
                merged.merge(issues)
                if issues.by_row:
                    built.issues[schema.stream] = merged
            table = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
            built.files.extend(self._split(schema, table))
        return built

    def parse(self, event_type: type[EventBase], lines: list[bytes]) -> tuple[pa.Table, Issues]:
        """Text slices of one stream as one Arrow table (the GIL is released while parsing)."""
        return self.schema_for(event_type).from_rows(b"".join(lines))

    @staticmethod
    def _tables(schema: StreamSchema, slices: list[Converted]) -> list[tuple[pa.Table, Issues]]:
        """Arrow tables of the slices, in order; consecutive unparsed slices are parsed together.

        A slice still ``parsing`` is being parsed by the sink's other writer thread: this waits
        for it (parse jobs wait for nothing, so this cannot deadlock)."""
        out: list[tuple[pa.Table, Issues]] = []
        lines: list[bytes] = []
        for part in slices:
            if part.unparsed:
                lines.append(part.text)
                continue
            if lines:
                out.append(schema.from_rows(b"".join(lines)))
                lines = []
            out.append(part.parsing.result() if part.parsing is not None else (part.table, part.issues or Issues()))
        if lines:
            out.append(schema.from_rows(b"".join(lines)))
        return out

    def _split(self, schema: StreamSchema, table: pa.Table) -> list[PendingFile]:
        """One pending file per hour of ``ts_recv``, each a run of consecutive rows: a row whose
        receive time steps back across the boundary (venues interleave by a few ms) stays in the
        later hour. So each stream's files, committed in order, always hold a prefix of its
        sequence numbers, which is what journal recovery relies on (``recovery_marks``)."""
        ts = pc.fill_null(table.column("ts_recv").cast(pa.int64()), 0)
        hours = pc.cumulative_max(pc.divide(ts, HOUR_NS))
        unique = sorted(pc.unique(hours).to_pylist())
        if len(unique) == 1:
            return [self._pending(schema, unique[0], table)]
        return [self._pending(schema, hour, table.filter(pc.equal(hours, hour))) for hour in unique]

    def _pending(self, schema: StreamSchema, hour: int, table: pa.Table) -> PendingFile:
        seq = pc.min_max(table.column("seq")).as_py()
        ts = pc.min_max(table.column("ts_recv").cast(pa.int64())).as_py()
        meta = {
            "schema_version": SCHEMA_VERSION,
            "stream": schema.stream,
            "first_seq": seq["min"],
            "last_seq": seq["max"],
            "first_ts_recv": ts["min"],
            "last_ts_recv": ts["max"],
            "rows": table.num_rows,
            "writer_version": mdi.__version__,
        }
        meta["instance"] = self.instance
        table = table.append_column(INSTANCE_COLUMN, pa.repeat(self.instance, table.num_rows).dictionary_encode())
        table = table.replace_schema_metadata({f"{META_PREFIX}{k}": str(v) for k, v in meta.items()})
        return PendingFile(schema, partition_dir(schema.stream, hour), table, seq["min"], seq["max"])

    # ----- committing ---------------------------------------------------------------------
    def commit(self, pending: Sequence[PendingFile]) -> CommitResult:
        """Write ``pending`` in order; stop at the first I/O error and report what was written."""
        written: list[Written] = []
        try:
            self._write_index(sorted({p.rel_dir for p in pending}))
            for item in pending:
                written.append(self._write(item))
        except WRITE_ERRORS as exc:
            self.store.forget()
            return CommitResult(written, exc)
        return CommitResult(written, None)

    def _write(self, item: PendingFile) -> Written:
        options = item.schema.write_options()
        options["use_dictionary"] = [*options["use_dictionary"], INSTANCE_COLUMN]
        level = self.compression_level

        def write(sink: Any) -> None:
            pq.write_table(item.table, sink, compression="zstd", compression_level=level, **options)

        name, size, renamed = self._create(item, write)
        visible_ns = self.clock()
        rel_path = f"{item.rel_dir}/{name}"
        self._advance(item.schema.stream, rel_path, item.last_seq)
        return Written(
            stream=item.schema.stream,
            rel_path=rel_path,
            rows=item.table.num_rows,
            size=size,
            last_seq=item.last_seq,
            latency=self._latency(item.table.column("ts_recv"), visible_ns),
            renamed=renamed,
        )

    def _create(self, item: PendingFile, write: Callable[[Any], None]) -> tuple[str, int, bool]:
        """Create the file under its natural name (name, size, renamed?).

        A taken name is never replaced. If the object there is this very file (same instance,
        seqs and row count: an earlier attempt whose answer was lost, which object stores make
        possible), it counts as written. Anything else there (two instances with one name?) is
        kept, and this file gets a suffixed name instead.
        """
        duplicate = 0
        while True:
            name = part_name(self.instance, item.first_seq, item.last_seq, duplicate)
            key = f"{self.vprefix}/{item.rel_dir}/{name}"
            size = self.store.create(key, write)
            if size is not None:
                return name, size, duplicate > 0
            if duplicate == 0 and self._is_same_file(key, item):
                return name, self.store.size(key) or 0, False
            duplicate += 1

    def _is_same_file(self, key: str, item: PendingFile) -> bool:
        meta = self.store.metadata(key)
        if meta is None or meta.num_rows != item.table.num_rows:
            return False
        found = meta.metadata or {}
        return (
            found.get(LAST_SEQ_KEY) == str(item.last_seq).encode()
            and found.get(f"{META_PREFIX}first_seq".encode()) == str(item.first_seq).encode()
            and found.get(f"{META_PREFIX}instance".encode()) == self.instance.encode()
        )

    def _advance(self, stream: str, rel_path: str, last_seq: int) -> None:
        head = self.heads.get(stream)
        if head is None or last_seq > head.last_seq:
            self.heads[stream] = Head(file=rel_path, last_seq=last_seq)
        if self.watermark is None or last_seq > self.watermark:
            self.watermark = last_seq

    def _latency(self, ts_recv: pa.ChunkedArray, visible_ns: int) -> Latency:
        waits = pc.subtract(pa.scalar(visible_ns, pa.int64()), ts_recv.cast(pa.int64()))
        n = len(waits) - waits.null_count
        at_most = [pc.sum(pc.less_equal(waits, bound)).as_py() or 0 for bound in self.latency_bounds_ns]
        counts = [at_most[0], *(b - a for a, b in zip(at_most, at_most[1:])), n - at_most[-1]]
        total = pc.sum(waits).as_py() or 0
        picks = waits.take(pa.array(range(0, len(waits), LATENCY_SAMPLE_STRIDE), pa.int64())).drop_null()
        samples = [ns / 1e9 for ns in picks.to_pylist()]
        return Latency(counts=counts, total_s=total / 1e9, n=n, samples=samples)

    def _write_index(self, pending_dirs: list[str]) -> None:
        index = LakeIndex(
            schema_version=SCHEMA_VERSION, instance=self.instance, watermark=self.watermark, heads=dict(self.heads),
            pending_dirs=pending_dirs,
        )
        write_index(self.store, self.vprefix, self.instance, index)
