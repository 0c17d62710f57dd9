"""The write-ahead journal under the durable sinks (docs/operations.md, "Crash safety").

:class:`Journal` appends and group-commits every routed batch; :func:`replay` hands the tail
each durable sink has not stored to it at start; :class:`RecoverableSink` is what a durable
sink implements to take part (and ``SinkContext.committed`` is how it reports its commits).
"""

from mdi.journal.config import JournalConfig
from mdi.journal.journal import Journal
from mdi.journal.recovery import RecoverableSink, Replayed, Target, replay

__all__ = ["Journal", "JournalConfig", "RecoverableSink", "Replayed", "Target", "replay"]
