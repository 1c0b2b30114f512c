"""Save a synthetic world (tables and truth) to a folder and read it back."""

from __future__ import annotations

from pathlib import Path

from churnlab.data.synthetic.truth import Truth
from churnlab.errors import DataSourceError
from churnlab.schema import Dataset

__all__ = ["save_world", "load_world", "TRUTH_FOLDER"]

TRUTH_FOLDER = "truth"


def save_world(dataset: Dataset, truth: Truth, folder: str | Path) -> Path:
    """Write the dataset (Parquet tables + ``dataset.json``) and its truth under ``folder/truth``.

    Parameters
    ----------
    dataset : Dataset
        The world's tables.
    truth : Truth
        The world's truth.
    folder : str or Path
        Destination; created when absent.

    Returns
    -------
    Path
        The folder.
    """
    folder = Path(folder)
    dataset.save(folder)
    truth.save(folder / TRUTH_FOLDER)
    return folder


def load_world(folder: str | Path) -> tuple[Dataset, Truth]:
    """Read a world written by :func:`save_world`.

    Raises
    ------
    DataSourceError
        When the folder holds no dataset or no truth.
    """
    folder = Path(folder)
    if not (folder / TRUTH_FOLDER).is_dir():
        raise DataSourceError(f"{folder}: no {TRUTH_FOLDER}/ folder; expected a world written by save_world")
    return Dataset.load(folder), Truth.load(folder / TRUTH_FOLDER)
