"""Statistical formulas of the A/B analysis, one quantity per function, from sufficient statistics.

Every function takes sufficient statistics (counts, sums, sums of squares and cross-products) that
can be added to pool strata, and returns plain numbers. The test families of :mod:`churnlab.experiment`
wrap them into result objects; this package holds only the formulas and cites each one.

Conventions: ``t`` is the treated arm, ``c`` the control (holdout) arm; an effect is ``t - c``; a
variance of a mean is the arm's own variance divided by the arm's own n (never an equal-split n).

Modules: :mod:`~churnlab.experiment.stats.core` (moments, z, p-values, corrections, SRM),
:mod:`~churnlab.experiment.stats.effects` (difference, ratio, CUPED, non-inferiority, capping),
:mod:`~churnlab.experiment.stats.counts` (binary metrics with few successes: score test and intervals),
:mod:`~churnlab.experiment.stats.power` (power, MDE, sample size) and
:mod:`~churnlab.experiment.stats.sequential` (mSPRT, log-rank increments). Every name is re-exported here.
"""

from __future__ import annotations

from churnlab.experiment.stats.core import (
    Moments,
    benjamini_hochberg,
    binomial_band,
    holm,
    moments,
    p_value_from_z,
    srm_chi_square,
    z_critical,
)
from churnlab.experiment.stats.counts import score_difference, score_ratio
from churnlab.experiment.stats.effects import (
    absolute_effect,
    cuped_adjusted,
    cuped_theta,
    log_ratio_effect,
    non_inferiority,
    relative_effect,
    two_proportion_z,
    upper_cap,
)
from churnlab.experiment.stats.power import minimum_detectable_effect, power, sample_size
from churnlab.experiment.stats.sequential import always_valid_p, logrank_increments, msprt_likelihood_ratio

__all__ = [
    "Moments",
    "moments",
    "z_critical",
    "p_value_from_z",
    "two_proportion_z",
    "absolute_effect",
    "relative_effect",
    "log_ratio_effect",
    "upper_cap",
    "score_difference",
    "score_ratio",
    "cuped_theta",
    "cuped_adjusted",
    "power",
    "minimum_detectable_effect",
    "sample_size",
    "holm",
    "benjamini_hochberg",
    "non_inferiority",
    "msprt_likelihood_ratio",
    "always_valid_p",
    "logrank_increments",
    "srm_chi_square",
    "binomial_band",
]
