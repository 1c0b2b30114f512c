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


def load(source: str | Path, *, validate: bool = True) -> Dataset:
    """Load a named source that takes no settings, a files config (``*.yaml``) or a saved dataset folder.

    Parameters
    ----------
    source : str or Path
        A name in :data:`SOURCES` whose entry takes no settings (the public datasets), a files config
        or a folder written by :meth:`Dataset.save`.
    validate : bool, default True
        Check the dataset against the canonical schema and raise on any problem; ``False``
        returns it unchecked (to look at a broken export, as ``churnlab data validate`` does).

    Raises
    ------
    DataSourceError
        When ``source`` is none of these (the message lists the names that load alone) or cannot be read.
    SchemaError
        When ``validate`` and the data breaks the schema: every problem, one per line, as
        ``churnlab data validate`` prints them.
    """
    from churnlab.schema import validate as validate_dataset

    names = named_without_settings()
    path = Path(source)
    if str(source) in names:
        dataset = SOURCES[str(source)].open({})
    elif path.is_dir() and (path / "dataset.json").is_file():
        dataset = Dataset.load(path)
    elif path.suffix in (".yaml", ".yml"):
        dataset = load_files(path, validate=False)
    else:
        raise DataSourceError(
            f"data source {str(source)!r}: expected one of {sorted(names)}, a files config (.yaml) "
            "or a folder written by Dataset.save"
        )
    if validate:
        validate_dataset(dataset).raise_if_failed()
    return dataset
