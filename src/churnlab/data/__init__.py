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


def load(source: str | Path, *, validate: bool = True) -> Dataset:
    """Load a named public dataset, a files config (``*.yaml``) or a saved dataset folder.

    Parameters
    ----------
    source : str or Path
        A name of :data:`SOURCES`, a files config or a folder written by :meth:`Dataset.save`.
    validate : bool, default True
        Check the dataset against the canonical schema and raise on any problem; ``False``
        returns it unchecked (to look at a broken export, as ``churnlab data validate`` does).

    Raises
    ------
    DataSourceError
        When ``source`` is none of these (the message lists the known names) or cannot be read.
    SchemaError
        When ``validate`` and the data breaks the schema: every problem, one per line, as
        ``churnlab data validate`` prints them.
    """
    from churnlab.schema import validate as validate_dataset

    path = Path(source)
    if str(source) in SOURCES:
        dataset = SOURCES[str(source)]()
    elif path.is_dir() and (path / "dataset.json").is_file():
        dataset = Dataset.load(path)
    elif path.suffix in (".yaml", ".yml"):
        dataset = load_files(path, validate=False)
    else:
        raise DataSourceError(
            f"data source {str(source)!r}: expected one of {sorted(SOURCES)}, a files config (.yaml) "
            "or a folder written by Dataset.save"
        )
    if validate:
        validate_dataset(dataset).raise_if_failed()
    return dataset
