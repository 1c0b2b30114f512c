"""churnlab: a Jupyter research workbench for customer churn with reproducible experiments."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from churnlab.schema import Dataset, validate

try:
    __version__ = version("churnlab")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0+unknown"

__all__ = ["Dataset", "validate", "__version__"]
