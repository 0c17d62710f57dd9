"""Test support for mdi and its plugin authors: venue simulators and helpers.

Venue simulators are real WebSocket servers on 127.0.0.1 that speak a venue's protocol. They are
used by mdi's own tests, by ``mdi demo`` and by the benchmarks; third-party plugins can subclass
:class:`~mdi.testing.sim.VenueSimulator` for their own venue.
"""

from mdi.testing.sim import VenueSimulator

__all__ = ["VenueSimulator"]
