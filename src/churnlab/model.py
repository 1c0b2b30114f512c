"""Churn models: the public face of :mod:`churnlab.modeling`.

Notebooks, benchmarks and older code import from here; every name lives in one module of
:mod:`churnlab.modeling` (splits in ``selection``, XGBoost in ``estimators``, baselines, calibration,
evaluation, the MLflow registry) and is re-exported unchanged: ``churnlab.model.__all__`` is
``churnlab.modeling.__all__`` plus ``PIP_REQUIREMENTS``.
"""

from churnlab import modeling
from churnlab.modeling import *  # noqa: F403 - the public face re-exports the package's names
from churnlab.modeling.registry import PIP_REQUIREMENTS

__all__ = [*modeling.__all__, "PIP_REQUIREMENTS"]
