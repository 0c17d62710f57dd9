"""A reader/writer lock between compaction's swaps and ``mdi lake`` readers (local disk only).

``mdi lake query`` and ``report`` hold it shared while they list and read; compaction holds it
exclusively only around each directory exchange. So mdi's own readers never list a partition
before a swap and open its files after it (which a plain glob reader can: it then gets "no such
file", never a wrong row). ``flock`` locks vanish with their process, so a kill -9 leaves none.
"""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from typing import Iterator

from mdi_lake.catalog import STAGING
from mdi_lake.lakefs import Lake

LOCK_NAME = ".lock"


@contextmanager
def lake_lock(lake: Lake, *, exclusive: bool) -> Iterator[None]:
    if not lake.local:
        yield
        return
    directory = lake.path(STAGING)
    os.makedirs(directory, exist_ok=True)
    fd = os.open(os.path.join(directory, LOCK_NAME), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)
