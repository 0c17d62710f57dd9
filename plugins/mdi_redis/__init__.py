"""mdi's Redis sink: the latest value per key, a rolling spot-mid window, health and Pub/Sub.

Registered as the best-effort sink ``redis`` (config section ``[sinks.redis]``); see
``docs/redis.md`` for keys, values and settings.
"""
