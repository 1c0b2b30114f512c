"""Shared fixtures: an isolated project folder with its own MLflow store, and tiny notebooks.

``project`` makes ``tmp_path/project`` the project root (``CHURNLAB_HOME``) with a private SQLite
store (``MLFLOW_TRACKING_URI``), the committed sample files under ``data/samples`` and an empty
``notebooks/`` folder, so a test never touches the real ``runs/``, ``data/generated/`` or ``mlflow.db``.
``write_notebook`` writes a small notebook with a tagged ``parameters`` cell.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]


def make_project(root: Path, mp: pytest.MonkeyPatch) -> Path:
    """Turn ``root`` into an isolated churnlab project and point the environment at it."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text('[project]\nname = "churnlab"\n', encoding="utf-8")
    shutil.copytree(REPO / "data" / "samples", root / "data" / "samples", dirs_exist_ok=True)
    (root / "notebooks").mkdir(exist_ok=True)
    (root / "experiments").mkdir(exist_ok=True)
    mp.setenv("CHURNLAB_HOME", str(root))
    mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
    mp.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    mp.delenv("MLFLOW_RUN_ID", raising=False)
    return root


def write_notebook(path: Path, parameters: str, *cells: str, title: str = "# A test notebook") -> Path:
    """Write a notebook: a title, the ``parameters`` cell, then one code cell per string in ``cells``."""
    params = nbformat.v4.new_code_cell(parameters)
    params.metadata["tags"] = ["parameters"]
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell(title), params, *(nbformat.v4.new_code_cell(c) for c in cells)]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


#: A notebook that reads the prepared data and logs two metrics, a parameter and a figure.
LOGGING_CELLS = (
    "from churnlab import tracking\nfrom churnlab.data import load",
    "ds = load(data_dir)\nn = len(ds.tables['customers'])\n"
    "tracking.log_metrics({'customers': n, 'scaled': n * scale})\ntracking.log_params({'dataset': ds.name})",
    "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
    "fig, ax = plt.subplots()\nax.plot([0, 1], [0, n])\ntracking.log_figure(fig, 'line.png')",
)
LOGGING_PARAMETERS = 'data_dir = ""\nseed = 0\nscale: float = 1.0\nlabel: Optional[str] = None'


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated project root with a private MLflow store; see the module docstring."""
    return make_project(tmp_path / "project", monkeypatch)


@pytest.fixture
def logging_notebook(project: Path) -> Path:
    """``notebooks/logging.ipynb`` in the isolated project (declares data_dir, seed, scale, label)."""
    return write_notebook(
        project / "notebooks" / "logging.ipynb",
        "from typing import Optional\n" + LOGGING_PARAMETERS,
        *LOGGING_CELLS,
    )


@pytest.fixture(scope="module")
def module_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Like ``project`` but shared by the tests of one module (for fixtures that run notebooks once)."""
    with pytest.MonkeyPatch.context() as mp:
        yield make_project(tmp_path_factory.mktemp("shared") / "project", mp)
