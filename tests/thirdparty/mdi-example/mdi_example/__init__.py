"""Example third-party plugin: a counting connector and a JSON-lines sink (used by mdi's tests)."""
