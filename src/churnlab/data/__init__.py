"""Data sources: public datasets, a user's files, and the synthetic world (``churnlab.data.synthetic``).

Every source a spec may name is one entry of :data:`SOURCES` (:mod:`churnlab.data.registry`): its
loader, its settings and their types. :func:`load` opens a source that needs no settings by name
(``telco``, ``mlc_churn``, ``cdnow``), a files config (``*.yaml``) or a folder written by ``Dataset.save``.
"""

from __future__ import annotations

from pathlib import Path

from churnlab.data.files import load_files
from churnlab.data.public import load_cdnow, load_mlc_churn, load_telco
from churnlab.data.registry import SOURCES, Setting, Source, named_without_settings, source
from churnlab.errors import DataSourceError
from churnlab.schema import Dataset

__all__ = [
    "load",
    "load_telco",
    "load_mlc_churn",
    "load_cdnow",
    "load_files",
    "SOURCES",
    "Source",
    "Setting",
    "source",
]


def load(source: str | Path) -> Dataset:
    """Load a named source that takes no settings, a files config (``*.yaml``) or a saved dataset folder.

    Raises
    ------
    DataSourceError
        When ``source`` is none of these; the message lists the names that load alone.
    """
    names = named_without_settings()
    if str(source) in names:
        return SOURCES[str(source)].open({})
    path = Path(source)
    if path.is_dir() and (path / "dataset.json").is_file():
        return Dataset.load(path)
    if path.suffix in (".yaml", ".yml"):
        return load_files(path)
    raise DataSourceError(
        f"data source {str(source)!r}: expected one of {sorted(names)}, a files config (.yaml) "
        "or a folder written by Dataset.save"
    )
