"""Shared test configuration: every async test runs on anyio's asyncio backend."""

from __future__ import annotations

import os
import signal
import sys

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (from /proc), children first."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out: list[int] = []
    todo = list(children.get(pid, []))
    while todo:
        child = todo.pop()
        out.append(child)
        todo.extend(children.get(child, []))
    return out


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A test that failed half-way must not leave an ``mdi run``/``mdi demo`` behind: it would
    outlive the suite, eat the CPU of whatever runs next and write into the checkout. Every
    fixture has been torn down by now, so whatever still runs below pytest is a leak: killed."""
    leaked = _descendants(os.getpid())
    for pid in leaked:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    if leaked:
        print(f"\nconftest: killed {len(leaked)} process(es) a test left running: {leaked}", file=sys.stderr)
