"""Churn models: the public face of :mod:`churnlab.modeling`.

Notebooks, benchmarks and older code import from here; every name lives in one module of
:mod:`churnlab.modeling` (splits in ``selection``, XGBoost in ``estimators``, baselines, calibration,
evaluation, the MLflow registry) and is re-exported unchanged.
"""

from churnlab.modeling import (
    METRICS,
    Calibrated,
    ChurnXGBClassifier,
    ModelComparison,
    SignalRule,
    TrainingData,
    best_operating_point,
    calibrate,
    compare_models,
    cross_validated_auc,
    default_models,
    evaluate,
    grouped_folds,
    holdout_split,
    lift_table,
    log_model,
    logistic_baseline,
    prior_baseline,
    profit_curve,
    stratified_folds,
    time_split,
    training_data,
)
from churnlab.modeling.registry import PIP_REQUIREMENTS

__all__ = [
    "training_data",
    "TrainingData",
    "time_split",
    "holdout_split",
    "grouped_folds",
    "stratified_folds",
    "ChurnXGBClassifier",
    "SignalRule",
    "logistic_baseline",
    "prior_baseline",
    "default_models",
    "Calibrated",
    "calibrate",
    "evaluate",
    "lift_table",
    "profit_curve",
    "best_operating_point",
    "ModelComparison",
    "compare_models",
    "cross_validated_auc",
    "log_model",
    "METRICS",
    "PIP_REQUIREMENTS",
]
