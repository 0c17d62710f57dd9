"""The live status page on the ops port (``GET /``) and the plugin route hook behind it.

- :mod:`.history`: bounded memory of the derived streams (fed by the router's derived taps).
- :mod:`.rates`: events per second from the connectors' counters, sampled on request.
- :mod:`.document`: ``/status.json``, the one document the page draws.
- :mod:`.routes`: ``/``, ``/status.json``, ``/static/<asset>`` (package data, no CDN).
- :mod:`.plugin_routes`: ``mdi_register_routes`` (plugins add routes and panels).

Import the submodules: this package imports nothing itself, so the runtime's import of the
history does not pull in litestar when ``[http]`` is off.
"""
