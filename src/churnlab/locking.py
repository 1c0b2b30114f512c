"""One inter-process lock: an exclusive ``fcntl.flock`` on a lock file.

Used where several ``churnlab run`` processes may start together: creating the SQLite tracking store
(:func:`churnlab.tracking.store_lock`) and building one data cache folder (:func:`churnlab.cache.prepare_data`).
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

__all__ = ["file_lock"]


@contextlib.contextmanager
def file_lock(path: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created, with its folder, when absent) until the block ends.

    The lock is released when the block ends or the process dies, so a killed run never leaves it held.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with file_lock(pathlib.Path(tempfile.mkdtemp()) / "x.lock"):
    ...     pass
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
