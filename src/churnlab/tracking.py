"""MLflow conventions: where the store lives, which run a notebook logs to, and what every run records.

The store is embedded in the project folder and needs no server: an absolute SQLite URI
``sqlite:///<project_root>/mlflow.db`` with artifacts in ``<project_root>/mlartifacts``, whatever the
working directory. ``MLFLOW_TRACKING_URI`` overrides it (a shared server, or a test's private store).

Inside a notebook the logging helpers (:func:`log_metrics`, :func:`log_params`, :func:`log_figure`,
:func:`log_table`, :func:`log_artifact`) attach to the run whose id is in ``MLFLOW_RUN_ID``: the runner
creates one child run per notebook and puts its id in the environment the papermill kernel inherits
(a run started in the orchestrator is not *active* inside the kernel, mlflow#7257). They never start
or end a run: the orchestrator owns run status. Without a run (interactive JupyterLab use) they log
nothing and say so once.

Every value logged to the current run in this process is also kept in memory (:func:`recorded`), so a
test that calls a function using these helpers can read what it logged without an MLflow store.

The orchestrator (:mod:`churnlab.runner`) makes every MLflow call through this module too: it creates
runs (:func:`create_run`), logs to a run it names (``run_id=`` on the logging helpers), reads a run's
metrics (:func:`run_metrics`) and alone sets a run's final status (:func:`end_run`). :func:`kernel_env`
gives the environment a notebook's kernel needs to find its run; besides it, the runner sets
``CHURNLAB_RUN_DIR`` (:data:`churnlab.config.RUN_DIR_ENV`) to the run folder, where files a notebook
writes belong (:func:`churnlab.notebook.output_path`). Experiments are created as classic ML experiments
(tag ``mlflow.experimentKind = custom_model_development``), so the MLflow 3 UI opens on the runs table
rather than in its GenAI mode.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from churnlab.config import project_root
from churnlab.locking import file_lock

__all__ = [
    "tracking_uri",
    "artifact_location",
    "store_lock",
    "client",
    "experiment_id",
    "mark_classic_experiments",
    "create_run",
    "end_run",
    "run_status",
    "run_metrics",
    "kernel_env",
    "active_run_id",
    "log_metrics",
    "log_params",
    "log_figure",
    "log_table",
    "log_artifact",
    "recorded",
    "provenance",
    "PACKAGES",
]

#: Packages whose versions every run records (tag ``version.<name>``).
PACKAGES = (
    "churnlab",
    "pandas",
    "numpy",
    "scikit-learn",
    "xgboost-cpu",
    "xgboost",
    "shap",
    "mlflow",
    "papermill",
    "nbconvert",
    "duckdb",
    "ibis-framework",
    "scipy",
    "lifetimes",
    "matplotlib",
)

#: Experiment tag the MLflow 3 UI reads to choose its layout; ``custom_model_development`` is classic ML
#: (runs table, metrics, models), the UI's other kinds are GenAI (traces, evaluation runs).
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
CLASSIC_ML = "custom_model_development"

#: Loggers whose INFO lines ("Creating initial MLflow database tables...") only say a fresh store was made.
_STORE_LOGGERS = ("mlflow.store.db.utils", "alembic")

#: MLflow's limit on a parameter value's length (characters).
_MAX_PARAM_LENGTH = 6000

_RECORD: dict[str, dict[str, Any]] = {"metrics": {}, "params": {}, "artifacts": {}}
_SAID_NO_RUN = False


def tracking_uri() -> str:
    """Return the MLflow tracking URI: ``MLFLOW_TRACKING_URI`` if set, else the project's SQLite store.

    Returns
    -------
    str
        ``sqlite:///<project_root>/mlflow.db`` (absolute, so it does not depend on the working
        directory) unless the environment names another store.
    """
    env = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    if env:
        return env
    return f"sqlite:///{project_root() / 'mlflow.db'}"


def artifact_location(experiment_name: str | None = None) -> str | None:
    """Return the artifact root for new experiments, ``<project_root>/mlartifacts`` as a URI.

    For a SQLite store elsewhere (a test's private store) the artifacts go to ``mlartifacts`` next
    to that database file. For a server URI, ``None``: the server decides.

    Parameters
    ----------
    experiment_name : str, optional
        Unused by the layout today; experiments are told apart by id inside the root.
    """
    db = _sqlite_path(tracking_uri())
    if db is None:
        return None
    default_db = project_root() / "mlflow.db"
    folder = project_root() / "mlartifacts" if db == default_db else db.parent / "mlartifacts"
    return folder.resolve().as_uri()


def _sqlite_path(uri: str) -> Path | None:
    """Return the database file of a ``sqlite:///`` URI, ``None`` for any other scheme."""
    if not uri.startswith("sqlite:"):
        return None
    path = unquote(urlparse(uri).path)
    if uri.startswith("sqlite:////"):
        path = "/" + path.lstrip("/")
    return Path(path).resolve()


@contextlib.contextmanager
def store_lock() -> Iterator[None]:
    """Hold an exclusive lock on the tracking store while creating it or an experiment.

    Several processes creating a fresh SQLite store at once corrupt it (FIELD_NOTES: 3 of 3 trials);
    the first creation is serialised with :func:`churnlab.locking.file_lock` on ``<database>.lock``.
    Other stores need no lock and the context does nothing.
    """
    db = _sqlite_path(tracking_uri())
    if db is None:
        yield
        return
    with file_lock(db.with_name(db.name + ".lock")):
        yield


@contextlib.contextmanager
def _quiet_store() -> Iterator[None]:
    """Silence MLflow's INFO lines about creating or upgrading the store (they are not news to a user)."""
    loggers = [logging.getLogger(name) for name in _STORE_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def client(uri: str | None = None):
    """Return an ``MlflowClient`` on :func:`tracking_uri`, creating the store under :func:`store_lock`.

    Parameters
    ----------
    uri : str, optional
        Another store (a run's recorded ``tracking_uri``); :func:`tracking_uri` by default.

    Returns
    -------
    mlflow.tracking.MlflowClient
    """
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from mlflow.tracking import MlflowClient

    uri = uri or tracking_uri()
    with store_lock(), _quiet_store():
        mlflow_client = MlflowClient(tracking_uri=uri)
        mlflow_client.search_experiments(max_results=1)  # opens (and if fresh, creates) the schema
    return mlflow_client


def experiment_id(name: str) -> str:
    """Return the id of experiment ``name``, creating it with an explicit artifact location if needed.

    Creation happens under :func:`store_lock` so two runs starting together do not both create it.
    The experiment is marked as classic ML (:data:`EXPERIMENT_KIND_TAG`), also when it already existed.
    """
    mlflow_client = client()
    with store_lock():
        found = mlflow_client.get_experiment_by_name(name)
        if found is None:
            return mlflow_client.create_experiment(
                name, artifact_location=artifact_location(name), tags={EXPERIMENT_KIND_TAG: CLASSIC_ML}
            )
    if found.tags.get(EXPERIMENT_KIND_TAG) is None:
        mlflow_client.set_experiment_tag(found.experiment_id, EXPERIMENT_KIND_TAG, CLASSIC_ML)
    return found.experiment_id


def mark_classic_experiments() -> list[str]:
    """Mark every experiment of the store that has no kind yet as classic ML; return their names.

    Experiments created before churnlab set the tag open in the MLflow 3 UI's GenAI mode; ``churnlab ui``
    calls this before serving the store.
    """
    mlflow_client = client()
    marked = []
    for experiment in mlflow_client.search_experiments():
        if experiment.tags.get(EXPERIMENT_KIND_TAG) is None:
            mlflow_client.set_experiment_tag(experiment.experiment_id, EXPERIMENT_KIND_TAG, CLASSIC_ML)
            marked.append(experiment.name)
    return marked


def create_run(
    experiment: str,
    name: str,
    tags: Mapping[str, str],
    *,
    parent: str | None = None,
    source: str | None = None,
    note: str | None = None,
) -> str:
    """Create a run in experiment id ``experiment`` and return its id; the run is not made active.

    Parameters
    ----------
    experiment : str
        Experiment id (:func:`experiment_id`).
    name : str
        The run's name.
    tags : mapping of str to str
        Tags set at creation.
    parent : str, optional
        Parent run id: the new run is its child (MLflow's ``mlflow.parentRunId`` tag).
    source : str, optional
        What the run executes, a spec or notebook path (``mlflow.source.name``).
    note : str, optional
        Description shown on the run's page (``mlflow.note.content``).
    """
    extra = {"mlflow.parentRunId": parent, "mlflow.source.name": source, "mlflow.note.content": note}
    all_tags = {**tags, **{k: v for k, v in extra.items() if v is not None}}
    return client().create_run(experiment, run_name=name, tags=all_tags).info.run_id


def end_run(run_id: str, status: str, uri: str | None = None) -> None:
    """Set run ``run_id``'s final status (``FINISHED``, ``FAILED`` or ``KILLED``) and its end time.

    Only the orchestrator calls this: a notebook's helpers never end a run. ``uri`` names another store
    (a run's recorded ``tracking_uri``).
    """
    _client_quiet(uri).set_terminated(run_id, status)


def run_status(run_id: str, uri: str | None = None) -> str:
    """Return run ``run_id``'s status as MLflow stores it (``RUNNING``, ``FINISHED``, ``FAILED``, ``KILLED``)."""
    return _client_quiet(uri).get_run(run_id).info.status


def run_metrics(run_id: str, uri: str | None = None) -> dict[str, float]:
    """Return the latest value of every metric of run ``run_id``, sorted by name (``uri``: another store)."""
    return dict(sorted(_client_quiet(uri).get_run(run_id).data.metrics.items()))


def kernel_env(run_id: str) -> dict[str, str]:
    """Environment a notebook's kernel needs to log to run ``run_id`` in this store.

    ``MLFLOW_TRACKING_URI`` (absolute, so the kernel's working directory does not matter),
    ``MLFLOW_RUN_ID`` (a run started in the orchestrator is not active in the kernel, mlflow#7257) and
    ``MLFLOW_DISABLE_TELEMETRY``.
    """
    return {"MLFLOW_TRACKING_URI": tracking_uri(), "MLFLOW_RUN_ID": run_id, "MLFLOW_DISABLE_TELEMETRY": "true"}


def active_run_id() -> str | None:
    """Return the run the helpers log to: ``MLFLOW_RUN_ID``, else an active ``mlflow`` run, else ``None``."""
    env = os.environ.get("MLFLOW_RUN_ID", "").strip()
    if env:
        return env
    if "mlflow" in sys.modules:
        import mlflow

        run = mlflow.active_run()
        if run is not None:
            return run.info.run_id
    return None


def _run_or_say() -> str | None:
    """Return :func:`active_run_id`; print one informational line per process when there is none."""
    global _SAID_NO_RUN
    run_id = active_run_id()
    if run_id is None and not _SAID_NO_RUN:
        _SAID_NO_RUN = True
        print("churnlab.tracking: no MLflow run (interactive use); values are kept in memory, not logged.")
    return run_id


def _destination(kind: str, values: Mapping[str, Any], run_id: str | None) -> str | None:
    """Return the run to log to: ``run_id`` when the caller names one, else the current run.

    Values logged to the current run (or to none) are also kept in memory for :func:`recorded`.
    """
    if run_id is not None:
        return run_id
    _RECORD[kind].update(values)
    return _run_or_say()


def _client_quiet(uri: str | None = None):
    """Return an ``MlflowClient`` without the store lock (the runner has created the store)."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri or tracking_uri())


def metric_name(name: object) -> str:
    """MLflow-safe metric name: characters MLflow refuses (``+``, ``%``, ``(``, ...) become ``_``.

    Examples
    --------
    >>> metric_name("churn_recency_6+ wk")
    'churn_recency_6_ wk'
    """
    return re.sub(r"[^\w\-. :/]", "_", str(name))


def log_metrics(
    metrics: Mapping[str, float], step: int | None = None, *, run_id: str | None = None
) -> dict[str, float]:
    """Log numeric metrics to the current run (or to run ``run_id``).

    Parameters
    ----------
    metrics : mapping of str to float
        Metric name to value; values are converted with ``float`` (NaN is allowed, MLflow stores it).
    step : int, optional
        Step of a series (an epoch, a cutoff index); ``0`` when omitted.
    run_id : str, optional
        Log to this run instead of the current one (the orchestrator's use; not kept in memory).

    Returns
    -------
    dict of str to float
        The values as logged.

    Raises
    ------
    TypeError
        When a value cannot be converted to ``float``; the message names the metric.
    """
    values: dict[str, float] = {}
    for key, value in metrics.items():
        try:
            values[metric_name(key)] = float(value)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"metric {key!r}: expected a number, got {type(value).__name__}") from exc
    run_id = _destination("metrics", values, run_id)
    if run_id is not None and values:
        from mlflow.entities import Metric

        stamp = int(time.time() * 1000)
        batch = [Metric(key=k, value=v, timestamp=stamp, step=step or 0) for k, v in values.items()]
        _client_quiet().log_batch(run_id, metrics=batch)
    return values


def _param_text(value: Any) -> str:
    """Render a parameter value as MLflow stores it: scalars with ``str``, containers as JSON."""
    if isinstance(value, (list, tuple, dict)):
        text = json.dumps(value, default=str, sort_keys=True)
    else:
        text = str(value)
    return text[:_MAX_PARAM_LENGTH]


def log_params(params: Mapping[str, Any], *, run_id: str | None = None) -> dict[str, str]:
    """Log parameters (settings) to the current run (or to run ``run_id``).

    Parameters
    ----------
    params : mapping of str to any
        Parameter name to value; lists and dicts are stored as JSON, others with ``str``.
        MLflow keeps a parameter immutable: logging the same name again with another value fails.
    run_id : str, optional
        Log to this run instead of the current one (the orchestrator's use; not kept in memory).

    Returns
    -------
    dict of str to str
        The values as logged.
    """
    values = {str(k): _param_text(v) for k, v in params.items()}
    run_id = _destination("params", values, run_id)
    if run_id is not None and values:
        from mlflow.entities import Param

        mlflow_client = _client_quiet()
        existing = mlflow_client.get_run(run_id).data.params
        fresh = [Param(k, v) for k, v in values.items() if existing.get(k) != v]
        for start in range(0, len(fresh), 100):  # MLflow's batch limit is 100 params
            mlflow_client.log_batch(run_id, params=fresh[start : start + 100])
    return values


def log_figure(fig, name: str) -> str:
    """Log a matplotlib figure as an image artifact (``name`` such as ``"churn_by_month.png"``).

    Parameters
    ----------
    fig : matplotlib.figure.Figure or matplotlib.axes.Axes
        The figure (an Axes is accepted and its figure logged).
    name : str
        Artifact file name, optionally with a sub-folder (``"figures/roc.png"``).

    Returns
    -------
    str
        ``name``.
    """
    figure = getattr(fig, "figure", None) if not hasattr(fig, "savefig") else fig
    if figure is None or not hasattr(figure, "savefig"):
        raise TypeError(f"log_figure {name!r}: expected a matplotlib Figure or Axes, got {type(fig).__name__}")
    run_id = _destination("artifacts", {name: "figure"}, None)
    if run_id is not None:
        _client_quiet().log_figure(run_id, figure, artifact_file=name)
    return name


def log_table(df, name: str) -> str:
    """Log a DataFrame as a CSV artifact (``name`` such as ``"churn_by_segment.csv"``).

    The index is written only when it carries information (not a default ``RangeIndex``).

    Parameters
    ----------
    df : pandas.DataFrame
        The table; it is not modified.
    name : str
        Artifact file name ending in ``.csv``, optionally with a sub-folder.

    Returns
    -------
    str
        ``name``.
    """
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"log_table {name!r}: expected a DataFrame, got {type(df).__name__}")
    buffer = io.StringIO()
    df.to_csv(buffer, index=not isinstance(df.index, pd.RangeIndex))
    run_id = _destination("artifacts", {name: "table"}, None)
    if run_id is not None:
        _client_quiet().log_text(run_id, buffer.getvalue(), artifact_file=name)
    return name


def log_artifact(path: str | Path, artifact_path: str | None = None, *, run_id: str | None = None) -> str:
    """Log a local file (or folder) as an artifact of the current run (or of run ``run_id``).

    Parameters
    ----------
    path : str or Path
        File or folder to copy into the run's artifacts.
    artifact_path : str, optional
        Sub-folder of the run's artifacts.
    run_id : str, optional
        Log to this run instead of the current one (the orchestrator's use; not kept in memory).

    Returns
    -------
    str
        The artifact's path inside the run.
    """
    source = Path(path)
    if not source.exists():
        raise FileNotFoundError(f"log_artifact: {source} does not exist")
    target = f"{artifact_path}/{source.name}" if artifact_path else source.name
    run_id = _destination("artifacts", {target: "file"}, run_id)
    if run_id is not None:
        mlflow_client = _client_quiet()
        if source.is_dir():
            mlflow_client.log_artifacts(run_id, str(source), artifact_path=target)
        else:
            mlflow_client.log_artifact(run_id, str(source), artifact_path=artifact_path)
    return target


def recorded() -> dict[str, dict[str, Any]]:
    """Return a copy of everything the helpers logged in this process, run or no run.

    Returns
    -------
    dict
        ``{"metrics": {name: float}, "params": {name: str}, "artifacts": {name: kind}}``.
    """
    return {k: dict(v) for k, v in _RECORD.items()}


def _git(*args: str, cwd: Path) -> str | None:
    """Run a git command in ``cwd``; ``None`` when git or the repository is unavailable."""
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _package_version(name: str) -> str | None:
    """Installed version of distribution ``name``, ``None`` when absent."""
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def provenance(root: Path | None = None) -> dict[str, str]:
    """Return what every run records about where it came from, as MLflow tags.

    Parameters
    ----------
    root : Path, optional
        Project folder whose git state is read; :func:`churnlab.config.project_root` by default.

    Returns
    -------
    dict of str to str
        ``churnlab.version``, ``git.commit`` (``"unknown"`` outside a repository), ``git.dirty``
        (``"true"``/``"false"``/``"unknown"``), ``python.version`` and ``version.<package>`` for
        each of :data:`PACKAGES` that is installed.
    """
    folder = root or project_root()
    commit = _git("rev-parse", "HEAD", cwd=folder)
    status = _git("status", "--porcelain", "--untracked-files=no", cwd=folder) if commit else None
    tags = {
        "churnlab.version": _package_version("churnlab") or "unknown",
        "git.commit": commit or "unknown",
        "git.dirty": "unknown" if status is None else str(bool(status)).lower(),
        "python.version": sys.version.split()[0],
    }
    for name in PACKAGES:
        found = _package_version(name)
        if found is not None:
            tags[f"version.{name}"] = found
    return tags
