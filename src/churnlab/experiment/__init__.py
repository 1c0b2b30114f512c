"""Offer experiments: hash assignment with a holdout, analysis behind an SRM gate, survival, uplift.

Modules: :mod:`~churnlab.experiment.assign` (hash split), :mod:`~churnlab.experiment.stats` (one formula
per function); one module per test family, each result class beside the function that builds it:
:mod:`~churnlab.experiment.effects` (effects, CUPED, :func:`analyze` with Holm, effects by group),
:mod:`~churnlab.experiment.srm`, :mod:`~churnlab.experiment.power`, :mod:`~churnlab.experiment.sequential`,
:mod:`~churnlab.experiment.guardrail` and :mod:`~churnlab.experiment.profit` (ROI), re-exported by
:mod:`~churnlab.experiment.analysis`; :mod:`~churnlab.experiment.survival` (Kaplan-Meier, log-rank),
:mod:`~churnlab.experiment.uplift` (T-/X-learners, Qini, targeting policy) and
:mod:`~churnlab.experiment.campaign` (audience and outcomes from a dataset).
"""

from churnlab.experiment.analysis import (
    EffectResult,
    ExperimentResult,
    NonInferiorityResult,
    PowerResult,
    RoiResult,
    SequentialResult,
    SrmResult,
    analyze,
    effects_by,
    non_inferiority_test,
    observed_power,
    plan_power,
    roi,
    sequential_logrank,
    sequential_looks,
    sequential_test,
    srm_check,
)
from churnlab.experiment.assign import HOLDOUT, assign, planned_shares

__all__ = [
    "HOLDOUT",
    "assign",
    "planned_shares",
    "analyze",
    "srm_check",
    "effects_by",
    "plan_power",
    "observed_power",
    "non_inferiority_test",
    "sequential_test",
    "sequential_looks",
    "sequential_logrank",
    "roi",
    "SrmResult",
    "EffectResult",
    "ExperimentResult",
    "PowerResult",
    "NonInferiorityResult",
    "SequentialResult",
    "RoiResult",
]
