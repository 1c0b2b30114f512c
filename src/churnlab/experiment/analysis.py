"""Public face of the A/B analysis: every test family re-exported from its own module.

The families live beside their result classes: :mod:`~churnlab.experiment.effects` (absolute, relative and
CUPED effects, :func:`analyze` with Holm, :func:`effects_by`), :mod:`~churnlab.experiment.srm` (the
sample-ratio-mismatch gate), :mod:`~churnlab.experiment.power` (power and MDE),
:mod:`~churnlab.experiment.sequential` (always-valid peeking), :mod:`~churnlab.experiment.guardrail`
(non-inferiority) and :mod:`~churnlab.experiment.profit` (ROI), over the shared base in
:mod:`~churnlab.experiment.results`. Importing from here keeps working.
"""

from __future__ import annotations

from churnlab.experiment.checks import DEFAULT_ALPHA, DEFAULT_SRM_ALPHA
from churnlab.experiment.effects import (
    KINDS,
    EffectResult,
    ExperimentResult,
    analyze,
    arm_moments,
    effect,
    effects_by,
)
from churnlab.experiment.guardrail import NonInferiorityResult, non_inferiority_test
from churnlab.experiment.power import PowerResult, observed_power, plan_power
from churnlab.experiment.profit import RoiResult, roi
from churnlab.experiment.sequential import (
    DEFAULT_LOGRANK_TAU2,
    SequentialResult,
    sequential_logrank,
    sequential_looks,
    sequential_test,
)
from churnlab.experiment.srm import SrmResult, srm_check

__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_SRM_ALPHA",
    "DEFAULT_LOGRANK_TAU2",
    "KINDS",
    "SrmResult",
    "EffectResult",
    "ExperimentResult",
    "PowerResult",
    "NonInferiorityResult",
    "SequentialResult",
    "RoiResult",
    "srm_check",
    "arm_moments",
    "effect",
    "analyze",
    "effects_by",
    "plan_power",
    "observed_power",
    "non_inferiority_test",
    "sequential_test",
    "sequential_looks",
    "sequential_logrank",
    "roi",
]
