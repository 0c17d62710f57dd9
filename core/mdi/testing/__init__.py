"""Test support for mdi and its plugin authors: venue simulators and helpers.

Venue simulators are real WebSocket servers on 127.0.0.1 that speak a venue's protocol. They are
used by mdi's own tests, by ``mdi demo`` and by the benchmarks; third-party plugins can subclass
:class:`~mdi.testing.sim.VenueSimulator` for their own venue.

For plugin tests: :mod:`mdi.testing.graph` (the real graph in-process on a temporary lake, and
the lake read back), :mod:`mdi.testing.harness` (recorded frames through one session),
:mod:`mdi.testing.sources` (given events into the graph), :mod:`mdi.testing.redis_server`, and
the pytest fixtures of :mod:`mdi.testing.pytest_plugin` (entry point ``pytest11: mdi``).
"""

from mdi.testing.sim import VenueSimulator

__all__ = ["VenueSimulator"]
