"""Where each offer works: propensity-aware uplift learners, Qini curves and a targeting policy.

Modules: :mod:`~churnlab.experiment.uplift.learners` (T- and X-learners as scikit-learn estimators,
per-arm fitting and cross-fitting), :mod:`~churnlab.experiment.uplift.evaluation` (Qini curve, uplift in
the top k%) and :mod:`~churnlab.experiment.uplift.policy` (recommendation, inverse-propensity and doubly
robust policy value, policy comparison). The experiment's allocation is known (e.g. 10% holdout, 30% per
offer), so the propensity is that share, not a model. Curves and policies are evaluated on held-out
customers only.
"""

from churnlab.experiment.uplift.evaluation import qini_curve, uplift_at_k
from churnlab.experiment.uplift.learners import CrossFitted, TLearner, XLearner, cross_fit_uplift, fit_uplift_by_arm
from churnlab.experiment.uplift.policy import (
    PolicyComparison,
    compare_policies,
    policy_gain_se_floor,
    policy_value,
    policy_value_dr,
    recommend_policy,
)

__all__ = [
    "TLearner",
    "XLearner",
    "fit_uplift_by_arm",
    "CrossFitted",
    "cross_fit_uplift",
    "qini_curve",
    "uplift_at_k",
    "recommend_policy",
    "policy_value",
    "policy_value_dr",
    "policy_gain_se_floor",
    "PolicyComparison",
    "compare_policies",
]
