"""The model registry: log a fitted churn model to the active MLflow run and register it.

The only module of :mod:`churnlab.modeling` that imports MLflow (lazily, inside :func:`log_model`).
"""

from __future__ import annotations

import pandas as pd
from sklearn.utils.validation import check_is_fitted

from churnlab.modeling._checks import check_columns, check_X
from churnlab.modeling.estimators import ChurnXGBClassifier

__all__ = ["log_model", "PIP_REQUIREMENTS"]

#: Packages a served model needs (passed to MLflow so it does not spend ~2 s inferring them).
PIP_REQUIREMENTS = ("xgboost>=3.0", "pandas>=2.2", "numpy>=2.0", "scikit-learn>=1.6")

#: Types in a fitted ChurnXGBClassifier that MLflow's skops serialisation must be told to trust; the
#: estimator's own path is read from the class, so it stays right wherever the class lives.
_TRUSTED_TYPES = (f"{ChurnXGBClassifier.__module__}.{ChurnXGBClassifier.__qualname__}", "xgboost.core.Booster",
                  "xgboost.sklearn.XGBClassifier")

def log_model(model: ChurnXGBClassifier, X_example: pd.DataFrame, *,
              registered_model_name: str | None = "churnlab-churn", name: str = "model") -> str | None:
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
