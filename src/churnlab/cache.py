"""The data cache: a spec's data written once to ``data/generated/<key>/`` and reused by later runs.

The key hashes the source and its settings (:attr:`churnlab.spec.DataSpec.key`), the code that builds
data (:func:`loader_digest`) and whatever else the source says decides its data (a files source: its
config and the files next to it, :attr:`churnlab.data.Source.inputs`). The source's
:meth:`~churnlab.data.Source.write` fills the folder.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from churnlab.config import data_dir
from churnlab.data import source as data_source
from churnlab.locking import file_lock
from churnlab.spec import DataSpec

__all__ = ["PreparedData", "prepare_data", "loader_digest", "cache_key"]

Progress = Callable[[str], None]


@dataclass(frozen=True)
class PreparedData:
    """A dataset written once to ``folder`` (``Dataset.save`` layout) and its content fingerprint."""

    folder: Path
    fingerprint: str
    key: str
    cached: bool


def loader_digest() -> str:
    """Hash of the code that builds data (``churnlab/data``, ``schema.py``, ``config.py``): 12 hex characters.

    Part of every data cache key, so a change to a loader or to the synthetic world's generator
    rebuilds the cached data instead of silently reusing tables the current code would not produce.
    """
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted([package / "schema.py", package / "config.py", *(package / "data").rglob("*.py")]):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def cache_key(data: DataSpec) -> str:
    """Return the data's cache key ``<source>-<12 hex>``.

    It hashes the spec's source and settings, the loader code (:func:`loader_digest`) and the
    source's own inputs (a files source: its config and the size/mtime of its folder's files).
    """
    digest = hashlib.sha256((data.key + loader_digest()).encode())
    digest.update(data_source(data.source).inputs(data.settings))
    return f"{data.source}-{digest.hexdigest()[:12]}"


def prepare_data(data: DataSpec, *, progress: Progress | None = None) -> PreparedData:
    """Write the spec's data to ``data/generated/<key>/`` once; later runs with the same settings reuse it.

    The folder is built under a temporary name and renamed when complete, under a per-key lock, so
    concurrent runs neither build it twice nor read half of it. ``cache.json`` records the key,
    source, settings and fingerprint.

    Parameters
    ----------
    data : DataSpec
        Source and settings from the spec.
    progress : callable, optional
        Receives one line of progress text.

    Returns
    -------
    PreparedData

    Raises
    ------
    DataSourceError
        When the source cannot be read or generated as its settings say.
    """
    from churnlab import tracking

    say = progress or (lambda _line: None)
    key = cache_key(data)
    in_place = data_source(data.source).in_place
    if in_place is not None:
        folder = in_place(data.settings)
        fingerprint = json.loads((folder / "dataset.json").read_text(encoding="utf-8"))["fingerprint"]
        say(f"data: {data.source} read where it lies, {folder} (fingerprint {fingerprint[:12]})")
        return PreparedData(folder=folder, fingerprint=fingerprint, key=key, cached=True)
    folder = data_dir() / key
    with file_lock(data_dir() / f"{key}.lock"):
        meta = folder / "dataset.json"
        if meta.is_file():
            fingerprint = json.loads(meta.read_text(encoding="utf-8"))["fingerprint"]
            say(f"data: {data.source} from cache {folder} (fingerprint {fingerprint[:12]})")
            return PreparedData(folder=folder, fingerprint=fingerprint, key=key, cached=True)
        say(f"data: preparing {data.source} {dict(data.settings) or ''} -> {folder}")
        started = time.perf_counter()
        building = folder.with_name(f".{key}.{os.getpid()}.building")
        shutil.rmtree(building, ignore_errors=True)
        try:
            data_source(data.source).write(data.settings, building)
            fingerprint = json.loads((building / "dataset.json").read_text(encoding="utf-8"))["fingerprint"]
            cache = {
                "key": key,
                "source": data.source,
                "settings": dict(data.settings),
                "fingerprint": fingerprint,
                "created": dt.datetime.now().isoformat(timespec="seconds"),
                "churnlab_version": tracking.provenance().get("churnlab.version"),
            }
            (building / "cache.json").write_text(json.dumps(cache, indent=2, default=str), encoding="utf-8")
            os.replace(building, folder)
        finally:
            shutil.rmtree(building, ignore_errors=True)
        say(f"data: ready in {time.perf_counter() - started:.1f} s (fingerprint {fingerprint[:12]})")
        return PreparedData(folder=folder, fingerprint=fingerprint, key=key, cached=False)
