"""mdi: a market-data recorder built as a small core plus pluggy plugins."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("md-ingest")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+local"

__all__ = ["__version__"]
