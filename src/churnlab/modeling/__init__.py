"""Churn models: training rows and splits, estimators, baselines, calibration, evaluation, registry.

Modules, one concern each: :mod:`~churnlab.modeling.selection` (:class:`TrainingData`, time and
grouped splits), :mod:`~churnlab.modeling.estimators` (:class:`ChurnXGBClassifier`),
:mod:`~churnlab.modeling.baselines` (prior, single-signal rule, logistic; :func:`default_models`),
:mod:`~churnlab.modeling.calibration`, :mod:`~churnlab.modeling.evaluation` (metrics, lift, profit,
comparison, CV, the curve tables the plots draw) and :mod:`~churnlab.modeling.registry` (MLflow: the only
module that imports it). Input checks shared by the
estimators live in the private :mod:`~churnlab.modeling._checks`.

Estimators follow scikit-learn's rules: ``__init__`` stores keyword parameters unchanged, ``fit``
validates and returns ``self``, learned attributes end in ``_``, ``random_state`` is resolved in
``fit``. Every comparison includes ``DummyClassifier(strategy="prior")`` as the floor, a single-signal
rule and a logistic regression. Inputs are the frames of :func:`churnlab.features.build_features`
without the key columns (:func:`training_data` splits them off); non-numeric columns are categories.
"""

from churnlab.modeling.baselines import SignalRule, default_models, logistic_baseline, prior_baseline
from churnlab.modeling.calibration import Calibrated, calibrate
from churnlab.modeling.estimators import ChurnXGBClassifier
from churnlab.modeling.evaluation import (
    METRICS,
    ModelComparison,
    best_operating_point,
    capture_curve,
    compare_models,
    cross_validated_auc,
    evaluate,
    lift_table,
    profit_curve,
    reliability_table,
    roc_points,
)
from churnlab.modeling.registry import log_model
from churnlab.modeling.selection import (
    TrainingData,
    grouped_folds,
    holdout_split,
    sample_label_times,
    stratified_folds,
    time_split,
    training_data,
)

__all__ = [
    "training_data",
    "TrainingData",
    "sample_label_times",
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
    "roc_points",
    "capture_curve",
    "reliability_table",
    "log_model",
    "METRICS",
]
