"""SHAP figures drawn by shap's own plots: readable feature names, rounded values, the log-odds scale said."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from churnlab.errors import ModelError
from churnlab.explain import Explanation
from churnlab.plots import model as P

pytest.importorskip("shap")


@pytest.fixture()
def explanation():
    rng = np.random.default_rng(0)
    n = 50
    data = pd.DataFrame({"days_since_last_session": rng.exponential(10, n).round(4),
                         "MonthlyCharge": rng.normal(50, 10, n),
                         "segment": pd.Series(rng.choice(["B2B", "B2C"], n), dtype="string")})
    values = pd.DataFrame({"days_since_last_session": 0.1 * (data["days_since_last_session"] - 10),
                           "MonthlyCharge": 0.01 * (data["MonthlyCharge"] - 50), "segment": rng.normal(0, 0.05, n)})
    values.loc[0] = [2.0, 0.5, 0.1]  # row 0: margin -1 + 2.6 = 1.6
    keys = pd.DataFrame({"customer_id": [f"{i:05d}" for i in range(n)], "cutoff": pd.Timestamp("2024-06-01")})
    yield Explanation(values=values, base_value=-1.0, data=data, keys=keys)
    plt.close("all")


def _texts(fig) -> str:
    return " ".join(t.get_text() for ax in fig.axes for t in
                    [*ax.get_yticklabels(), *ax.get_xticklabels(), ax.xaxis.label, ax.yaxis.label, ax.title]
                    + list(ax.texts))


def test_the_beeswarm_shows_readable_names_on_a_log_odds_axis(explanation):
    ax = P.beeswarm(explanation)
    text = _texts(ax.figure)
    assert "Days since last session" in text and "Monthly charge" in text
    assert "days_since_last_session" not in text and "log-odds" in ax.get_xlabel()


def test_the_waterfall_shows_rounded_values_and_both_ends_as_probabilities(explanation):
    ax = P.waterfall(explanation, 0)
    text = _texts(ax.figure)
    value = explanation.data.loc[0, "days_since_last_session"]
    assert f"{value:.3g} = Days since last session" in text  # 3 significant digits, not the raw float
    assert "00000" not in text  # no customer id on the figure
    # base -1.0 -> 1/(1+e) = 27%; margin -1 + 2.0 + 0.5 + 0.1 = 1.6 -> 83%
    assert "27% at the base, 83% for them" in ax.get_title() and "log-odds" in ax.get_xlabel()


def test_the_dependence_plot_names_the_feature_and_refuses_an_unknown_one(explanation):
    ax = P.dependence(explanation, "MonthlyCharge")
    assert ax.get_xlabel() == "Monthly charge" and "log-odds" in ax.get_ylabel()
    with pytest.raises(ModelError, match="'tenure' is not explained"):
        P.dependence(explanation, "tenure")
