"""Is churn seasonal? Churn per calendar month, named as months, only where the data spans enough years.

One year of data shows each month once: a "seasonal peak" is then one month's luck, confounded with
everything else that happened that month. :func:`seasonality_coverage` counts how many full years
the data spans; :func:`monthly_seasonality` pools the periods of
:func:`churnlab.metrics.churn_over_time` by calendar month only when every month appears at least
``min_years`` times, and tests whether the months differ at all.
"""

from __future__ import annotations

import calendar

import numpy as np
import pandas as pd
from scipy import stats

from churnlab.errors import AnalysisError
from churnlab.metrics import churn_seasonality
from churnlab.schema import require_columns

__all__ = ["DEFAULT_MIN_YEARS", "seasonality_coverage", "monthly_seasonality"]

#: Every calendar month must appear at least twice (OPINIONS.md, "Seasonality: years needed").
DEFAULT_MIN_YEARS = 2


def _monthly(over_time: pd.DataFrame) -> pd.DataFrame:
    require_columns(over_time, ["period_start", "c_start", "churned"], table="churn_over_time")
    ot = over_time[over_time["c_start"] > 0]
    start = pd.to_datetime(ot["period_start"])
    if len(start) > 1 and (start.diff().dropna().dt.days > 31).any():
        raise AnalysisError("seasonality: the periods must be months (churn_over_time with freq='MS')")
    return ot.assign(month=start.dt.month)


def seasonality_coverage(over_time: pd.DataFrame, min_years: int = DEFAULT_MIN_YEARS) -> dict:
    """How many full years of monthly churn the data has, and whether that is enough.

    Parameters
    ----------
    over_time : DataFrame
        Monthly :func:`churnlab.metrics.churn_over_time` (``period_start, c_start, churned``),
        best started where observation starts.
    min_years : int
        Appearances of every calendar month needed.

    Returns
    -------
    dict
        ``n_months`` (periods with customers), ``full_years`` (the fewest appearances of any calendar
        month), ``min_years``, ``sufficient`` and ``note`` (one sentence for a report).

    Examples
    --------
    >>> ot = pd.DataFrame({"period_start": pd.date_range("2024-01-01", periods=11, freq="MS"),
    ...                    "c_start": 100, "churned": 5})
    >>> seasonality_coverage(ot)["note"]
    'The data spans 11 months (0 full years); seasonality per calendar month needs every month at least 2 times.'
    """
    ot = _monthly(over_time)
    counts = ot["month"].value_counts().reindex(range(1, 13), fill_value=0)
    full = int(counts.min())
    ok = full >= int(min_years)
    note = (f"The data spans {len(ot)} months ({full} full year{'s' if full != 1 else ''}); seasonality per "
            f"calendar month needs every month at least {int(min_years)} times.")
    return {"n_months": int(len(ot)), "full_years": full, "min_years": int(min_years), "sufficient": ok,
            "note": note}


def monthly_seasonality(over_time: pd.DataFrame, *, min_years: int = DEFAULT_MIN_YEARS,
                        alpha: float = 0.05) -> pd.DataFrame:
    """Churn per calendar month with intervals, named as months, and a test that the months differ.

    Parameters
    ----------
    over_time : DataFrame
        Monthly :func:`churnlab.metrics.churn_over_time`.
    min_years : int
        Appearances of every calendar month needed.
    alpha : float
        Wilson interval level.

    Returns
    -------
    DataFrame
        Twelve rows in calendar order: ``month`` (1-12), ``month_name`` (``January`` ...),
        ``n_periods, n, successes, rate, ci_lower, ci_upper`` (pooled churned / pooled starting
        customers) and ``difference`` from the pooled rate of all months. ``attrs`` holds
        ``full_years``, ``chi2`` and ``p_value`` of the chi-square test that all months share one rate.

    Raises
    ------
    AnalysisError
        When some calendar month appears fewer than ``min_years`` times (the message says how many
        full years there are).
    """
    cover = seasonality_coverage(over_time, min_years)
    if not cover["sufficient"]:
        raise AnalysisError(f"monthly_seasonality: {cover['note']}")
    table = churn_seasonality(_monthly(over_time).drop(columns="month"), alpha=alpha)
    table.insert(1, "month_name", [calendar.month_name[m] for m in table["month"]])
    overall = table["successes"].sum() / table["n"].sum()
    table["difference"] = table["rate"] - overall
    counts = np.column_stack([table["successes"], table["n"] - table["successes"]])
    chi2, p, _, _ = stats.chi2_contingency(counts, correction=False)
    table.attrs.update(full_years=cover["full_years"], chi2=float(chi2), p_value=float(p))
    return table
