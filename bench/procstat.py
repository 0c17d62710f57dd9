"""CPU time and memory of another process, read from ``/proc`` (Linux), for the benchmark.

The benchmark measures the mdi process from outside, so nothing in it is slowed by measuring:
CPU is ``utime + stime`` of every thread (the Parquet worker threads included), memory is
``VmRSS`` (now) and ``VmHWM`` (the peak the kernel recorded since the process started).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Memory:
    rss_mb: float
    peak_mb: float


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used so far (all threads)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()  # the command name may contain spaces
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / CLOCK_TICKS


def memory(pid: int) -> Memory:
    """Resident set size now and at its peak, in MB (10**6 bytes)."""
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) * 1024 / 1e6  # the kernel reports kB (KiB)
    return Memory(rss_mb=values.get("VmRSS", 0.0), peak_mb=values.get("VmHWM", 0.0))


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, summed over cores."""
    first = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    ticks = [int(v) for v in first]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    total = sum(ticks[:8])  # guest time is already inside user/nice
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS
