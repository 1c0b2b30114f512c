"""The model registry: log a fitted churn model to the active MLflow run, register it, load it by alias.

The only module of :mod:`churnlab.modeling` that imports MLflow (lazily, inside each function).

Aliases name the version a job should use: the weekly job scores with ``models:/<name>@champion``
(:func:`load_model`). The first version registered under a name becomes its champion (a name with no
champion cannot be scored); a later version is a challenger until :func:`set_alias` moves the alias,
which the champion/challenger comparison of :mod:`churnlab.monitor.champion` does only when the new
version is better by a stated margin (OPINIONS.md, "Champion and challenger").
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from sklearn.utils.validation import check_is_fitted

from churnlab.errors import ModelError
from churnlab.modeling._checks import check_columns, check_X
from churnlab.modeling.estimators import ChurnXGBClassifier

__all__ = ["log_model", "PIP_REQUIREMENTS", "CHAMPION", "ModelVersion", "model_version", "load_model",
           "set_alias", "has_alias", "run_version"]

#: The alias of the version the weekly job scores with.
CHAMPION = "champion"

#: Packages a served model needs (passed to MLflow so it does not spend ~2 s inferring them).
PIP_REQUIREMENTS = ("xgboost>=3.0", "pandas>=2.2", "numpy>=2.0", "scikit-learn>=1.6")

#: Types in a fitted ChurnXGBClassifier that MLflow's skops serialisation must be told to trust; the
#: estimator's own path is read from the class, so it stays right wherever the class lives.
_TRUSTED_TYPES = (f"{ChurnXGBClassifier.__module__}.{ChurnXGBClassifier.__qualname__}", "xgboost.core.Booster",
                  "xgboost.sklearn.XGBClassifier")

def log_model(model: ChurnXGBClassifier, X_example: pd.DataFrame, *,
              registered_model_name: str | None = "churnlab-churn", name: str = "model",
              first_alias: str | None = CHAMPION) -> str | None:
    """Log the fitted churn model to the active churnlab run with signature and input example, and register it.

    The estimator itself is logged (MLflow's scikit-learn flavour), so the served model takes the raw
    feature frame, category columns as strings, and encodes it exactly as in training; its pyfunc
    ``predict`` returns :meth:`ChurnXGBClassifier.predict_proba` (columns stay, churn).

    Parameters
    ----------
    model : ChurnXGBClassifier
        Fitted.
    X_example : DataFrame
        A few feature rows (the first 5 are kept as the input example).
    registered_model_name : str, optional
        Model-registry name; ``None`` logs without registering.
    name : str, default "model"
        Name of the logged model (``runs:/<run id>/<name>`` loads it).
    first_alias : str or None, default "champion"
        Given to the new version when no version of ``registered_model_name`` holds it yet (the first
        model registered under a name becomes its champion); a later version never takes it here.

    Returns
    -------
    str or None
        The model URI (``models:/<id>``), or None when there is no run (nothing is logged).

    Notes
    -----
    Loading needs ``churnlab`` importable (``mlflow.sklearn.load_model`` gives the estimator back,
    ``mlflow.pyfunc.load_model`` a scorer). The booster alone (MLflow's XGBoost flavour) cannot score
    string categories: its input example failed MLflow's serving validation.
    """
    from churnlab import tracking

    run_id = tracking.active_run_id()
    if run_id is None:
        return None
    import mlflow
    from mlflow.models import infer_signature

    check_is_fitted(model, "booster_")
    example = _mlflow_example(model, X_example)
    signature = infer_signature(example, model.predict_proba(example))
    mlflow.set_tracking_uri(tracking.tracking_uri())
    active = mlflow.active_run()
    if active is None or active.info.run_id != run_id:
        # Resume the notebook's run in this process and leave it open: the orchestrator owns its status
        # (FIELD_NOTES: the kernel's exit ends it; the runner marks failures itself).
        mlflow.start_run(run_id=run_id)
    info = mlflow.sklearn.log_model(model, name=name, signature=signature, input_example=example,
                                    pip_requirements=list(PIP_REQUIREMENTS), pyfunc_predict_fn="predict_proba",
                                    skops_trusted_types=list(_TRUSTED_TYPES),
                                    registered_model_name=registered_model_name)
    if registered_model_name and first_alias and not has_alias(registered_model_name, first_alias):
        version = getattr(info, "registered_model_version", None)
        if version is not None:
            set_alias(registered_model_name, first_alias, version)
    return info.model_uri


def _mlflow_example(model: ChurnXGBClassifier, X: pd.DataFrame) -> pd.DataFrame:
    """First 5 rows in the model's column order: categories as plain strings, numbers as floats.

    Numbers become float64 because a feature that is whole today may be missing tomorrow (MLflow warns
    about integer columns in a signature for that reason); the model converts them to float anyway.
    """
    example = check_columns(check_X(X, where="log_model"), model.feature_names_in_, "log_model").head(5).copy()
    for c in example.columns:
        if c in model.categories_:
            example[c] = example[c].astype("object").where(example[c].notna(), None)
        elif not pd.api.types.is_bool_dtype(example[c]):
            example[c] = pd.to_numeric(example[c], errors="coerce").astype("float64")
    return example.reset_index(drop=True)


@dataclass(frozen=True)
class ModelVersion:
    """One registered model version: where it came from and the figures its training run logged.

    Attributes
    ----------
    name : str
        Registered model name.
    version : int
    aliases : tuple of str
    run_id : str
        The run that logged it (its metrics are the model's training figures).
    source : str
        The model URI to load (``models:/<name>/<version>``).
    metrics : dict of str to float
        The training run's metrics (e.g. ``xgboost_out_of_time_roc_auc``, ``brier_calibrated``).
    tags : dict of str to str
        The version's tags (the weekly job records its training cutoffs there).
    """

    name: str
    version: int
    aliases: tuple[str, ...]
    run_id: str
    source: str
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"ModelVersion({self.name!r} v{self.version}, aliases={list(self.aliases)}, run={self.run_id[:8]})"


def _client():
    from churnlab import tracking

    return tracking.client()


def has_alias(name: str, alias: str) -> bool:
    """Say whether a version of registered model ``name`` holds ``alias`` (False when the name is unknown)."""
    from mlflow.exceptions import MlflowException

    try:
        _client().get_model_version_by_alias(name, alias)
    except MlflowException:
        return False
    return True


def model_version(name: str, alias: str | None = CHAMPION, *, version: int | None = None) -> ModelVersion:
    """Describe the version of registered model ``name`` that holds ``alias`` (or the given ``version``).

    Parameters
    ----------
    name : str
        Registered model name (notebook 02 registers ``churnlab-churn``).
    alias : str or None, default "champion"
        Used when ``version`` is None.
    version : int, optional
        A version number instead of an alias.

    Returns
    -------
    ModelVersion

    Raises
    ------
    ModelError
        When the name, alias or version is not registered (the message says how to register one).
    """
    from mlflow.exceptions import MlflowException

    client = _client()
    try:
        mv = client.get_model_version(name, str(version)) if version is not None else \
            client.get_model_version_by_alias(name, alias)
    except MlflowException:
        what = f"version {version}" if version is not None else f"alias {alias!r}"
        raise ModelError(f"model registry: no {what} of registered model {name!r}; train and register one first "
                         "(notebook 02, or the weekly job with train_if_missing)") from None
    metrics: dict[str, float] = {}
    if mv.run_id:
        try:
            metrics = dict(client.get_run(mv.run_id).data.metrics)
        except MlflowException:
            metrics = {}
    return ModelVersion(name=name, version=int(mv.version), aliases=tuple(getattr(mv, "aliases", []) or ()),
                        run_id=mv.run_id or "", source=f"models:/{name}/{mv.version}", metrics=metrics,
                        tags=dict(mv.tags or {}))


def load_model(name: str, alias: str | None = CHAMPION, *, version: int | None = None) -> tuple[object, ModelVersion]:
    """Load a registered churn model by name and alias (``models:/<name>@champion``) or version.

    Returns
    -------
    model : estimator
        The fitted estimator as logged (:class:`ChurnXGBClassifier` from notebook 02).
    info : ModelVersion
        Which version it is and its training figures.

    Raises
    ------
    ModelError
        When nothing is registered under that name and alias (see :func:`model_version`).
    """
    import mlflow

    from churnlab import tracking

    info = model_version(name, alias, version=version)
    mlflow.set_tracking_uri(tracking.tracking_uri())
    return mlflow.sklearn.load_model(info.source), info


def set_alias(name: str, alias: str, version: int | str, *, tags: dict[str, str] | None = None) -> None:
    """Point ``alias`` of registered model ``name`` at ``version`` (moving it from the version holding it).

    Parameters
    ----------
    name : str
        Registered model name.
    alias : str
        The alias to move (``champion``).
    version : int or str
        The version that takes it.
    tags : dict, optional
        Tags set on the version as well (e.g. the decision that moved the alias).
    """
    client = _client()
    client.set_registered_model_alias(name, alias, str(version))
    for key, value in (tags or {}).items():
        client.set_model_version_tag(name, str(version), key, str(value))


def run_version(name: str, run_id: str) -> int | None:
    """Return the newest version of registered model ``name`` logged by run ``run_id`` (None when there is none)."""
    found = _client().search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
    return max((int(v.version) for v in found), default=None)
