"""Customer value in a purchase log (no contract, e.g. CDNOW): BG/NBD for purchases, Gamma-Gamma for spend.

Where customers never cancel (they just stop buying), lifetime value cannot come from a survival
curve of subscriptions. The BG/NBD model (Fader, Hardie & Lee 2005) gives each customer's expected
number of purchases and their chance of still being "alive" from frequency, recency and age; the
Gamma-Gamma model (Fader & Hardie 2013) gives their expected spend per purchase; their product,
discounted, is the customer's value. Both are fitted with the Lifetimes package.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from churnlab import config as C
from churnlab.errors import AnalysisError, ModelError
from churnlab.experiment.results import Result
from churnlab.patterns.population import rows_before
from churnlab.schema import Dataset, require_columns

__all__ = ["rfm_summary", "TransactionCLV", "transaction_clv", "DEFAULT_CLV_MONTHS", "DEFAULT_MONTHLY_DISCOUNT"]

#: Horizon and monthly discount rate of a purchase-log CLV (OPINIONS.md, "LTV horizon").
DEFAULT_CLV_MONTHS = 12
DEFAULT_MONTHLY_DISCOUNT = 0.01


def rfm_summary(transactions: pd.DataFrame, cutoff, *, amount: str | None = "amount", unit_days: float = 7.0,
                since=None) -> pd.DataFrame:
    """Frequency, recency, age and mean repeat spend of each customer, as of ``cutoff``.

    Parameters
    ----------
    transactions : DataFrame
        ``customer_id, timestamp[, amount]``, one row per purchase; rows at or after the cutoff are
        not read. Purchases on the same day count as one (their amounts add up).
    cutoff : timestamp
        End of the calibration period.
    amount : str or None
        Spend column; None for no ``monetary_value``.
    unit_days : float
        Time unit of ``recency`` and ``T`` (7: weeks, as in the CDNOW papers).
    since : timestamp, optional
        Read only purchases from then on.

    Returns
    -------
    DataFrame
        One row per customer: ``customer_id, frequency`` (repeat purchase days), ``recency`` (first
        to last purchase), ``T`` (first purchase to the cutoff), ``monetary_value`` (mean spend of the
        repeat purchase days; 0 without any).

    Raises
    ------
    AnalysisError
        When there is no purchase before the cutoff.

    Examples
    --------
    >>> t = pd.DataFrame({"customer_id": ["a", "a", "a", "b"], "amount": [10.0, 5.0, 7.0, 3.0],
    ...                   "timestamp": pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-08", "2024-01-15"])})
    >>> rfm_summary(t, "2024-01-29").round(2).to_dict("records")[0]
    {'customer_id': 'a', 'frequency': 1, 'recency': 1.0, 'T': 4.0, 'monetary_value': 12.0}
    """
    cols = [C.CUSTOMER_ID, C.TIMESTAMP] + ([amount] if amount else [])
    require_columns(transactions, cols, table="events")
    cutoff = pd.Timestamp(cutoff)
    t = rows_before(transactions[cols], C.TIMESTAMP, cutoff, name="events")
    if since is not None:
        t = t[t[C.TIMESTAMP] >= pd.Timestamp(since)]
    if t.empty:
        raise AnalysisError(f"rfm_summary: no purchase before {cutoff.date()}")
    t = t.assign(**{C.CUSTOMER_ID: t[C.CUSTOMER_ID].astype(str), "_day": t[C.TIMESTAMP].dt.normalize()})
    agg = {"_n": (C.TIMESTAMP, "size")} | ({"_amount": (amount, "sum")} if amount else {})
    days = t.groupby([C.CUSTOMER_ID, "_day"], sort=True).agg(**agg).reset_index()
    first = days.groupby(C.CUSTOMER_ID)["_day"].transform("min")
    days["_repeat"] = days["_day"] > first
    g = days.groupby(C.CUSTOMER_ID, sort=True)
    unit = pd.Timedelta(days=unit_days)
    out = pd.DataFrame({
        "frequency": g["_repeat"].sum().astype(int),
        "recency": (g["_day"].max() - g["_day"].min()) / unit,
        "T": (cutoff.normalize() - g["_day"].min()) / unit,
    })
    if amount:
        rep = days[days["_repeat"]].groupby(C.CUSTOMER_ID)["_amount"].mean()
        out["monetary_value"] = rep.reindex(out.index).fillna(0.0)
    return out.reset_index()


@dataclass(frozen=True, repr=False)
class TransactionCLV(Result):
    """A fitted BG/NBD + Gamma-Gamma customer value.

    Attributes
    ----------
    customers : DataFrame
        One row per customer: the :func:`rfm_summary` columns, ``p_alive``, ``expected_purchases``
        (in the horizon), ``expected_spend`` (per purchase, Gamma-Gamma; the customer's own mean
        shrunk to the population's), ``clv`` (discounted value over the horizon).
    params : DataFrame
        ``model, parameter, estimate``: BG/NBD ``r, alpha, a, b`` and Gamma-Gamma ``p, q, v``.
    months, discount_rate, unit_days : float
        Horizon, monthly discount rate and time unit of the summary.
    spend_correlation : float
        Correlation of frequency and mean spend among repeat buyers (Gamma-Gamma assumes none).
    """

    customers: pd.DataFrame
    params: pd.DataFrame
    months: float
    discount_rate: float
    unit_days: float
    spend_correlation: float

    @property
    def summary(self) -> pd.DataFrame:
        """``model, parameter, estimate``."""
        return self.params

    def _headline(self) -> str:
        c = self.customers
        return (f"{len(c):,} customers, mean CLV {c['clv'].mean():.2f} over {self.months:g} months, "
                f"mean P(alive) {c['p_alive'].mean():.2f}")

    def _settings(self) -> dict[str, object]:
        return {"months": self.months, "discount_rate": self.discount_rate, "unit_days": self.unit_days,
                "n": len(self.customers)}

    def plot(self, ax=None):
        """Pareto curve of the customers' CLV (:func:`churnlab.plots.value.plot_pareto`)."""
        from churnlab.patterns.value import revenue_concentration
        from churnlab.plots.value import plot_pareto

        return plot_pareto(revenue_concentration(self.customers, "clv"), ax=ax)


def transaction_clv(dataset: Dataset, cutoff=None, *, months: float = DEFAULT_CLV_MONTHS,
                    discount_rate: float = DEFAULT_MONTHLY_DISCOUNT, unit_days: float = 7.0, since=None,
                    penalizer: float = 0.0, event_type: str | None = "purchase") -> TransactionCLV:
    """Fit BG/NBD and Gamma-Gamma on a purchase log and value every customer over ``months``.

    Parameters
    ----------
    dataset : Dataset
        Needs ``events`` with ``amount`` (e.g. ``load_cdnow()``).
    cutoff : timestamp, optional
        End of the calibration period; default ``as_of``.
    months : float
        Horizon of the value.
    discount_rate : float
        Monthly discount rate (0.01: 1% a month).
    unit_days : float
        Time unit of the summary (7 = weeks).
    since : timestamp, optional
        First purchase date read.
    penalizer : float
        L2 penalty of both fits (0 reproduces the published estimates).
    event_type : str or None
        Rows of ``events`` read (None: every row).

    Returns
    -------
    TransactionCLV

    Raises
    ------
    AnalysisError
        When nobody bought twice (no repeat purchases to fit spend on).
    ModelError
        When a fit does not converge.

    Notes
    -----
    ``CLV_i = sum_{m=1}^{M} E[spend_i] (E[X_i(t_m)] - E[X_i(t_{m-1})]) / (1 + d)^m`` with ``E[X_i(t)]``
    the BG/NBD conditional expected purchases (Fader, Hardie & Lee 2005, eq. 10) and ``E[spend_i]``
    the Gamma-Gamma conditional mean (Fader & Hardie 2013, eq. 5); Lifetimes'
    ``customer_lifetime_value`` computes it.

    References
    ----------
    .. [1] Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005) "Counting your customers" the easy
       way: an alternative to the Pareto/NBD model. Marketing Science 24(2), 275-284.
    .. [2] Fader, P. S. and Hardie, B. G. S. (2013) The Gamma-Gamma model of monetary value.
       http://brucehardie.com/notes/025/ (CDNOW: p = 6.25, q = 3.74, gamma = 15.44).
    """
    import lifetimes

    dataset.require("events", by="transaction_clv")
    ev = dataset["events"]
    if event_type is not None and "event_type" in ev:
        ev = ev[ev["event_type"] == event_type]
    cutoff = dataset.as_of if cutoff is None else pd.Timestamp(cutoff)
    s = rfm_summary(ev, cutoff, unit_days=unit_days, since=since)
    rep = s[(s["frequency"] > 0) & (s["monetary_value"] > 0)]  # Gamma-Gamma needs positive spend (CDNOW has $0 rows)
    if rep.empty:
        raise AnalysisError("transaction_clv: nobody made a repeat purchase before the cutoff")
    try:
        bg = lifetimes.BetaGeoFitter(penalizer_coef=penalizer).fit(s["frequency"], s["recency"], s["T"])
        gg = lifetimes.GammaGammaFitter(penalizer_coef=penalizer).fit(rep["frequency"], rep["monetary_value"])
    except Exception as exc:  # noqa: BLE001 - Lifetimes raises ConvergenceError and plain errors
        raise ModelError(f"transaction_clv: the BG/NBD / Gamma-Gamma fit failed ({exc})") from exc
    freq_code = {7.0: "W", 1.0: "D"}.get(float(unit_days))
    if freq_code is None:
        raise AnalysisError(f"transaction_clv: unit_days must be 7 (weeks) or 1 (days), got {unit_days}")
    out = s.copy()
    out["p_alive"] = np.asarray(bg.conditional_probability_alive(s["frequency"], s["recency"], s["T"]))
    horizon_units = months * (365.25 / 12.0) / unit_days
    out["expected_purchases"] = np.asarray(bg.conditional_expected_number_of_purchases_up_to_time(
        horizon_units, s["frequency"], s["recency"], s["T"]))
    out["expected_spend"] = np.asarray(gg.conditional_expected_average_profit(s["frequency"], s["monetary_value"]))
    out["clv"] = np.asarray(gg.customer_lifetime_value(bg, s["frequency"], s["recency"], s["T"], s["monetary_value"],
                                                       time=months, discount_rate=discount_rate, freq=freq_code))
    params = pd.DataFrame(
        [("BG/NBD", k, float(v)) for k, v in bg.params_.items()] + [("Gamma-Gamma", k, float(v))
                                                                   for k, v in gg.params_.items()],
        columns=["model", "parameter", "estimate"])
    corr = float(np.corrcoef(rep["frequency"], rep["monetary_value"])[0, 1]) if len(rep) > 2 else np.nan
    return TransactionCLV(customers=out, params=params, months=float(months), discount_rate=float(discount_rate),
                          unit_days=float(unit_days), spend_correlation=corr)
