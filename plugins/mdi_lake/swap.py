"""Atomic exchange of two directories (Linux ``renameat2(RENAME_EXCHANGE)``).

One system call swaps what two paths name, so a reader listing the partition directory sees the
old set of files or the new one, never a mixture and never neither. Not every platform or
filesystem has it: :func:`exchange` raises :class:`ExchangeUnsupported` then, and compaction
uses its object-storage protocol instead.
"""

from __future__ import annotations

import ctypes
import errno
import os
import sys

AT_FDCWD = -100
RENAME_EXCHANGE = 2


class ExchangeUnsupported(OSError):
    """The platform or filesystem cannot exchange two paths atomically."""


def _renameat2() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    return getattr(libc, "renameat2", None)


def exchange(a: str, b: str) -> None:
    """Swap the directories ``a`` and ``b`` in one atomic step."""
    call = _renameat2()
    if call is None:
        raise ExchangeUnsupported(errno.ENOSYS, "renameat2 is not available")
    if call(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) != 0:
        code = ctypes.get_errno()
        if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise ExchangeUnsupported(code, f"cannot exchange {a} and {b}: {os.strerror(code)}")
        raise OSError(code, os.strerror(code), a)


def exchange_supported(probe_dir: str) -> bool:
    """Try an exchange of two fresh directories under ``probe_dir`` (on the lake's filesystem)."""
    a, b = os.path.join(probe_dir, ".xchg-a"), os.path.join(probe_dir, ".xchg-b")
    os.makedirs(a, exist_ok=True)
    os.makedirs(b, exist_ok=True)
    try:
        exchange(a, b)
        return True
    except ExchangeUnsupported:
        return False
    finally:
        os.rmdir(a)
        os.rmdir(b)
