"""``python -m bench --peer cryptofeed``: mdi and cryptofeed side by side on the same frames.

See :mod:`bench.peer.run` for the method and docs/performance.md for the figures.
"""
