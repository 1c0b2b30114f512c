"""Data sources: public datasets, a user's files, and the synthetic world (``churnlab.data.synthetic``).

:func:`load` resolves a name (``telco``, ``mlc_churn``, ``cdnow``) or a path to a files config.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from churnlab.data.files import load_files
from churnlab.data.public import load_cdnow, load_mlc_churn, load_telco
from churnlab.errors import DataSourceError
from churnlab.schema import Dataset

__all__ = ["load", "load_telco", "load_mlc_churn", "load_cdnow", "load_files", "SOURCES"]

#: Named sources, each a function of no arguments returning a Dataset.
SOURCES: dict[str, Callable[[], Dataset]] = {
    "telco": load_telco,
    "mlc_churn": load_mlc_churn,
    "cdnow": load_cdnow,
}


def load(source: str | Path) -> Dataset:
    """Load a named public dataset, a files config (``*.yaml``) or a saved dataset folder.

    Raises
    ------
    DataSourceError
        When ``source`` is none of these; the message lists the known names.
    """
    if str(source) in SOURCES:
        return SOURCES[str(source)]()
    path = Path(source)
    if path.is_dir() and (path / "dataset.json").is_file():
        return Dataset.load(path)
    if path.suffix in (".yaml", ".yml"):
        return load_files(path)
    raise DataSourceError(
        f"data source {str(source)!r}: expected one of {sorted(SOURCES)}, a files config (.yaml) "
        "or a folder written by Dataset.save"
    )
