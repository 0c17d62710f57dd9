"""Raw frame capture and deterministic replay (docs/capture.md).

Capture wraps the transport and the clock the core hands every connector, so first- and
third-party connectors are recorded without code of their own: every frame received, every
message sent, every connect, close, and every clock read of the connector. Replay feeds the same
records back through the same sessions with those clock values, one connector step at a time in
recorded order, and ticks the pipelines on a virtual clock.
"""
