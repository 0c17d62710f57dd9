"""Instance identity: which running ``mdi`` wrote a file, a key or a sequence number.

Several instances (shards, each with its own venues) may write one lake and one Redis. Each
names itself with ``[service] instance`` (default: the short host name, which is the pod name
under Kubernetes), so its files never collide with another's and its sequence numbers, its
watermark and its health record are its own. The name goes into file names and object keys,
hence the narrow alphabet: letters, digits, ``_`` and ``-``, starting with a letter or digit.
"""

from __future__ import annotations

import re
import socket

# At least one letter: an all-digit name would read like a sequence number in a file name.
INSTANCE_PATTERN = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")


def check_instance(name: str) -> str:
    """``name`` if it is a valid instance name, else ValueError saying how to fix it."""
    if not INSTANCE_PATTERN.match(name):
        raise ValueError(
            f"instance must be 1-63 letters, digits, '_' or '-' (starting with a letter or digit, at least one letter), "
            f"got {name!r}; set e.g. instance = \"shard-a\""
        )
    return name


def host_instance() -> str:
    """The default instance name: the host name up to its first dot, made file-name safe."""
    short = socket.gethostname().split(".", 1)[0]
    safe = re.sub(r"[^A-Za-z0-9_-]", "-", short).strip("-_")[:63]
    return safe if safe and INSTANCE_PATTERN.match(safe) else f"mdi-{safe}" if safe else "mdi"
