"""From a dataset to an experiment table: audience, pre-period covariates and post-campaign outcomes.

The audience is the at-risk customers active at the campaign date, from the model's risk list when one
is given, else a truth-free rule (the longest time since the last session). Outcomes come from the
subscriptions and payments after the campaign; covariates from the events and payments before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from churnlab import config as C
from churnlab.errors import AnalysisError
from churnlab.experiment.assign import HOLDOUT
from churnlab.features import OPEN_SETTLE_DAYS, REDEEM_SETTLE_DAYS
from churnlab.labels import active_at, active_customers_at, churned_by, customer_spells
from churnlab.schema import Dataset, require_columns

__all__ = [
    "DEFAULT_HORIZONS",
    "PRE_COVARIATES",
    "UPLIFT_FEATURES",
    "active_customers",
    "churned_customers",
    "at_risk_audience",
    "rule_audience",
    "listed_audience",
    "pre_period_covariates",
    "campaign_outcomes",
    "reactivation_outcomes",
    "value_per_retained",
    "true_effects",
]

DEFAULT_HORIZONS = (30, 60, 90)
PRE_COVARIATES = ("pre_sessions_30", "pre_sessions_90", "pre_paid_90", "tenure_days")
#: Who an offer helps, as an analyst sees it: usage and payments (PRE_COVARIATES), the fee, segment and plan
#: (who the customer is), do-not-disturb (who dislikes being contacted), promo clicks and discount redemptions
#: and late payments (price sensitivity), newsletter opens (engagement) and the risk score of the audience.
#: OPINIONS.md "Uplift covariates".
UPLIFT_FEATURES = (*PRE_COVARIATES, "monthly_fee", "is_b2b", "plan_tier", "do_not_disturb", "promo_clicks_365",
                   "discount_redemptions_365", "late_payments_365", "email_open_rate_90", "risk_score")


def _as_of(dataset: Dataset, when) -> pd.Timestamp:
    if when is not None:
        return pd.Timestamp(when)
    as_of = getattr(dataset, "as_of", None)
    if as_of is None:
        raise AnalysisError("no campaign date given and the dataset has no as_of")
    return pd.Timestamp(as_of)


def active_customers(dataset: Dataset, as_of=None) -> pd.Index:
    """Return the ids of customers active at ``as_of``: a subscription spell covers it.

    The one definition of :func:`churnlab.labels.active_customers_at`: overlapping and back-to-back
    subscriptions merge into spells; a spell starting exactly at the campaign date is not yet active
    and one ending exactly at it has churned (OPINIONS.md, "Active at t: which edge is closed"), so the
    audience is the population the model scores at that cutoff.

    Parameters
    ----------
    dataset : Dataset
        Needs ``subscriptions`` (customer_id, start_at, end_at).
    as_of : timestamp, optional
        Campaign date; default the dataset's ``as_of``.

    Returns
    -------
    pandas.Index
        Sorted customer ids.
    """
    dataset.require("subscriptions", by="active_customers")
    return active_customers_at(dataset["subscriptions"], _as_of(dataset, as_of))


def churned_customers(dataset: Dataset, as_of=None, within_days: int | None = 180) -> pd.DataFrame:
    """Return the customers who have churned by ``as_of`` (the win-back audience), with when and why.

    The one definition of :func:`churnlab.labels.churned_by`: a customer has churned when every spell
    (overlapping and back-to-back subscriptions merged) that began before ``as_of`` ended at or before it,
    so a renewal is never a churn and a customer who came back is not in the list.

    Parameters
    ----------
    dataset : Dataset
        Needs ``subscriptions`` (customer_id, start_at, end_at[, churn_reason]).
    as_of : timestamp, optional
        Campaign date; default the dataset's ``as_of``.
    within_days : int, optional
        Only customers whose last spell ended at most this many days before ``as_of``; None for all.

    Returns
    -------
    DataFrame
        One row per churned customer, sorted by id: ``customer_id, churned_at`` (end of the last spell),
        ``churn_reason`` (of the spell's last subscription).
    """
    dataset.require("subscriptions", by="churned_customers")
    t = _as_of(dataset, as_of)
    subs = dataset["subscriptions"]
    gone = churned_by(subs, t)
    spells = customer_spells(subs, t)
    last = spells.sort_values([C.CUSTOMER_ID, "end_at"], kind="mergesort").groupby(C.CUSTOMER_ID).tail(1)
    last = last[last[C.CUSTOMER_ID].isin(gone.index[gone.to_numpy()])]
    if within_days is not None:
        last = last[last["end_at"] > t - pd.Timedelta(days=within_days)]
    out = last[[C.CUSTOMER_ID, "end_at", "churn_reason"]].rename(columns={"end_at": "churned_at"})
    return out.sort_values(C.CUSTOMER_ID, kind="mergesort").reset_index(drop=True)


def at_risk_audience(
    dataset: Dataset, as_of=None, *, share: float = 0.5, risk_list: str | Path | None = None
) -> pd.DataFrame:
    """Return the at-risk customers active at ``as_of``: the top ``share`` by risk.

    Parameters
    ----------
    dataset : Dataset
        Needs ``subscriptions``; ``events`` for the rule.
    as_of : timestamp, optional
        Campaign date; default the dataset's ``as_of``.
    share : float
        Share of active customers to target, in (0, 1].
    risk_list : path, optional
        CSV written by notebook 02 (``customer_id, score, probability, reasons``); when absent the rule
        "days since the last session" ranks customers (no ground truth is used).

    Returns
    -------
    DataFrame
        ``customer_id, risk_score, risk_decile, source`` sorted by decreasing risk; decile 10 is the riskiest
        tenth of the audience.

    Raises
    ------
    AnalysisError
        When ``share`` is outside (0, 1], the risk list lacks columns, or no active customer is scored.
    """
    if not 0 < share <= 1:
        raise AnalysisError(f"target share must lie in (0, 1], got {share}")
    t = _as_of(dataset, as_of)
    active = active_customers(dataset, t)
    if risk_list:
        scores = pd.read_csv(risk_list, dtype={"customer_id": str})
        col = "probability" if "probability" in scores.columns else "score"
        if "customer_id" not in scores.columns or col not in scores.columns:
            raise AnalysisError(f"risk list {risk_list} needs customer_id and probability or score columns")
        scored = scores[["customer_id", col]].rename(columns={col: "risk_score"})
        source = "risk list"
    else:
        dataset.require("events", by="at_risk_audience (recency rule)")
        ev = dataset["events"]
        ev = ev[(ev["event_type"] == "session") & (ev[C.TIMESTAMP] < t)]
        last = ev.groupby("customer_id")[C.TIMESTAMP].max()
        days = (t - last).dt.total_seconds() / 86400
        scored = pd.DataFrame({"customer_id": active})
        scored["risk_score"] = scored["customer_id"].map(days).fillna(np.inf).to_numpy()
        # never-seen customers rank first; keep them finite for deciles
        finite = scored["risk_score"].replace(np.inf, np.nan)
        scored["risk_score"] = scored["risk_score"].replace(np.inf, float(finite.max() or 0) + 1)
        source = "rule: days since last session"
    scored = scored[scored["customer_id"].isin(active)]
    if scored.empty:
        raise AnalysisError("no active customer has a risk score at the campaign date")
    scored = scored.sort_values(["risk_score", "customer_id"], ascending=[False, True], kind="stable")
    top = scored.head(max(int(round(share * len(scored))), 1)).reset_index(drop=True)
    rank = top["risk_score"].rank(method="first", ascending=True)
    top["risk_decile"] = np.ceil(rank / len(top) * 10).astype(int).clip(1, 10)
    top["source"] = source
    return top


def _with_deciles(scored: pd.DataFrame, source: str) -> pd.DataFrame:
    """Sort by decreasing risk and add ``risk_decile`` (10 = riskiest tenth) and ``source``."""
    out = scored.sort_values(["risk_score", C.CUSTOMER_ID], ascending=[False, True], kind="stable")
    out = out.reset_index(drop=True)
    rank = out["risk_score"].rank(method="first", ascending=True)
    out["risk_decile"] = np.ceil(rank / len(out) * 10).astype(int).clip(1, 10)
    out["source"] = source
    return out


def rule_audience(dataset: Dataset, as_of=None, *, rules_path: str | Path | None = None,
                  zones: Sequence[str] = ("red", "amber")) -> pd.DataFrame:
    """Return the active customers the risk rules put in a risk zone at ``as_of`` (CRM red alerts as an audience).

    Parameters
    ----------
    dataset : Dataset
        Needs ``customers`` and ``subscriptions`` and the tables the rules read.
    as_of : timestamp, optional
        Campaign date; default the dataset's ``as_of``. Features use data strictly before it.
    rules_path : path, optional
        A rules YAML (:func:`churnlab.patterns.rules.load_rules`); default churnlab's rules.
    zones : sequence of str
        Zones that make the audience.

    Returns
    -------
    DataFrame
        ``customer_id, risk_score, risk_decile, source, zone, reasons``: ``risk_score`` is 2 for red and 1 for
        amber plus a hundredth per rule that fired, sorted by decreasing risk.

    Raises
    ------
    AnalysisError
        When no active customer is in a zone.
    """
    from churnlab.features import build_features
    from churnlab.patterns.rules import assign_zones, evaluate_rules, load_rules

    t = _as_of(dataset, as_of)
    rules = load_rules(rules_path)
    feats = build_features(dataset, [t])
    z = assign_zones(evaluate_rules(rules, feats), rules)
    z = z[z["zone"].isin(list(zones)) & z[C.CUSTOMER_ID].astype(str).isin(active_customers(dataset, t))]
    if z.empty:
        raise AnalysisError(f"no active customer is in the risk zones {list(zones)} at {t.date()}")
    scored = pd.DataFrame({C.CUSTOMER_ID: z[C.CUSTOMER_ID].astype(str).to_numpy(),
                           "risk_score": (z["zone"].map({"red": 2.0, "amber": 1.0}).fillna(0.0)
                                          + z["n_rules"] / 100).to_numpy(),
                           "zone": z["zone"].to_numpy(), "reasons": z["reasons"].to_numpy()})
    out = _with_deciles(scored, f"risk rules ({', '.join(zones)})")
    return out[[C.CUSTOMER_ID, "risk_score", "risk_decile", "source", "zone", "reasons"]]


def listed_audience(dataset: Dataset, path: str | Path, as_of=None) -> pd.DataFrame:
    """Return the customers of an analyst's list (CSV with ``customer_id``) who are active at ``as_of``.

    Parameters
    ----------
    dataset : Dataset
        Needs ``subscriptions``.
    path : path
        CSV with a ``customer_id`` column and optionally ``risk_score`` (default 0 for all).
    as_of : timestamp, optional
        Campaign date; default the dataset's ``as_of``.

    Returns
    -------
    DataFrame
        ``customer_id, risk_score, risk_decile, source`` for the listed customers active at ``as_of``;
        ``attrs["not_active"]`` counts the listed customers left out.

    Raises
    ------
    AnalysisError
        When the file has no ``customer_id`` column or no listed customer is active.
    """
    t = _as_of(dataset, as_of)
    listed = pd.read_csv(path, dtype={C.CUSTOMER_ID: str})
    if C.CUSTOMER_ID not in listed.columns:
        raise AnalysisError(f"customer list {path}: needs a customer_id column; it has {list(listed.columns)}")
    listed = listed.drop_duplicates(C.CUSTOMER_ID)
    active = active_customers(dataset, t)
    keep = listed[listed[C.CUSTOMER_ID].isin(active)]
    if keep.empty:
        raise AnalysisError(f"customer list {path}: none of its {len(listed)} customers is active at {t.date()}")
    score = keep["risk_score"].astype(float) if "risk_score" in keep.columns else pd.Series(0.0, index=keep.index)
    out = _with_deciles(pd.DataFrame({C.CUSTOMER_ID: keep[C.CUSTOMER_ID].to_numpy(), "risk_score": score.to_numpy()}),
                        f"analyst list {Path(path).name}")
    out.attrs["not_active"] = int(len(listed) - len(keep))
    return out


def pre_period_covariates(dataset: Dataset, customers: Sequence[str], as_of=None) -> pd.DataFrame:
    """Return pre-campaign covariates for CUPED and uplift, one row per customer.

    Parameters
    ----------
    dataset : Dataset
        Needs ``customers``, ``events`` and ``payments``.
    customers : sequence of str
        Customer ids.
    as_of : timestamp, optional
        Campaign date; only data strictly before it is used.

    Returns
    -------
    DataFrame
        One row per customer: ``customer_id``; usage and payments ``pre_sessions_30, pre_sessions_90`` (sessions
        in the 30 / 90 days before ``as_of``), ``pre_paid_90`` (amount paid in the 90 days), ``tenure_days``;
        who the customer is: ``monthly_fee, segment``, ``is_b2b`` (1.0 for B2B), ``plan_tier`` (0 basic, 1 pro,
        2 enterprise; NaN for another plan), ``do_not_disturb`` (1.0 / 0.0); price sensitivity:
        ``promo_clicks_365`` (promo emails clicked), ``discount_redemptions_365`` (discount promos redeemed),
        ``late_payments_365`` (invoices paid late, counted once paid); engagement: ``email_open_rate_90``
        (share of newsletters opened, NaN when none was sent). Counts over 365 days cover the days before
        ``as_of`` only. The message columns are NaN when the dataset has no ``messages`` table; columns of
        ``customers`` that are absent give NaN.

    Raises
    ------
    MissingTableError
        When a needed table is missing.
    AnalysisError
        When a customer has no record in ``customers`` (no pre-period data).

    Notes
    -----
    Everything is observable before the campaign: no column reads the synthetic world's hidden state. Price
    sensitivity shows in redeemed discount promos and late payments, engagement in sessions and newsletter opens;
    :data:`UPLIFT_FEATURES` lists the columns the uplift learners use.
    """
    dataset.require("customers", "events", "payments", by="pre_period_covariates")
    t = _as_of(dataset, as_of)
    ids = pd.Index(pd.unique(pd.Series(list(customers), dtype=str)), name="customer_id")
    cust = dataset["customers"].set_index("customer_id")
    missing = ids.difference(cust.index)
    if len(missing):
        raise AnalysisError(f"{len(missing)} customers have no pre-period data (e.g. {list(missing[:3])})")
    ev = dataset["events"]
    ev = ev[(ev["event_type"] == "session") & (ev[C.TIMESTAMP] < t) & (ev[C.TIMESTAMP] >= t - pd.Timedelta(days=90))]
    ev = ev[ev["customer_id"].isin(ids)]
    s90 = ev.groupby("customer_id").size()
    s30 = ev[ev[C.TIMESTAMP] >= t - pd.Timedelta(days=30)].groupby("customer_id").size()
    year = t - pd.Timedelta(days=365)
    pay = dataset["payments"]
    pay = pay[pay["customer_id"].isin(ids) & pay["paid_at"].notna() & (pay["paid_at"] < t) & (pay["paid_at"] >= year)]
    paid = pay[pay["paid_at"] >= t - pd.Timedelta(days=90)].groupby("customer_id")["amount"].sum()
    out = pd.DataFrame({"customer_id": ids})
    out["pre_sessions_30"] = out["customer_id"].map(s30).fillna(0).astype(float).to_numpy()
    out["pre_sessions_90"] = out["customer_id"].map(s90).fillna(0).astype(float).to_numpy()
    out["pre_paid_90"] = out["customer_id"].map(paid).fillna(0).astype(float).to_numpy()
    signup = out["customer_id"].map(cust[C.SIGNUP_AT])
    out["tenure_days"] = ((t - signup).dt.total_seconds() / 86400).to_numpy()

    def attribute(column: str, codes: dict | None = None) -> np.ndarray:
        """Return the customers' numeric ``column`` of ``customers`` (``codes`` maps labels), NaN without it."""
        if column not in cust.columns:
            return np.full(len(out), np.nan)
        values = out["customer_id"].map(cust[column])
        return (values.map(codes) if codes else values).astype(float).to_numpy()

    out["monthly_fee"] = attribute("monthly_fee")
    out["segment"] = out["customer_id"].map(cust[C.SEGMENT]).to_numpy() if C.SEGMENT in cust.columns else "all"
    out["is_b2b"] = (out["segment"] == "B2B").astype(float) if C.SEGMENT in cust.columns else np.nan
    out["plan_tier"] = attribute("plan", {p: float(i) for i, p in enumerate(C.PLANS)})
    out["do_not_disturb"] = attribute("do_not_disturb")
    if "late" in pay.columns:
        late = pay[pay["late"].fillna(False).astype(bool)].groupby("customer_id").size()
        out["late_payments_365"] = out["customer_id"].map(late).fillna(0).astype(float).to_numpy()
    else:
        out["late_payments_365"] = np.nan
    msg_cols = ("promo_clicks_365", "discount_redemptions_365", "email_open_rate_90")
    if "messages" not in dataset:
        return out.assign(**{c: np.nan for c in msg_cols})
    ms = dataset["messages"]
    ms = ms[(ms["sent_at"] < t) & (ms["sent_at"] >= year) & ms["customer_id"].isin(ids)]
    # opens, clicks and redemptions sit on the message's row but happen later: only settled messages count
    open_settled = ms["sent_at"] < t - pd.Timedelta(days=OPEN_SETTLE_DAYS)
    promo = ms[(ms["kind"] == "promo") & open_settled]
    clicks = promo.groupby("customer_id")["clicked"].sum() if "clicked" in ms.columns else None
    redeemable = promo["sent_at"] < t - pd.Timedelta(days=REDEEM_SETTLE_DAYS)
    redeemed = (promo[redeemable & (promo["offer"] == "discount")].groupby("customer_id")["redeemed"].sum()
                if {"offer", "redeemed"} <= set(ms.columns) else None)
    news = ms[(ms["kind"] == "newsletter") & (ms["channel"] == "email") & open_settled
              & (ms["sent_at"] >= t - pd.Timedelta(days=90))]
    opens = news.groupby("customer_id")["opened"].mean() if "opened" in ms.columns else None
    for column, counts in (("promo_clicks_365", clicks), ("discount_redemptions_365", redeemed)):
        out[column] = np.nan if counts is None else out["customer_id"].map(counts).fillna(0).astype(float).to_numpy()
    out["email_open_rate_90"] = np.nan if opens is None else out["customer_id"].map(opens).astype(float).to_numpy()
    return out


def campaign_outcomes(
    dataset: Dataset,
    assignment: pd.DataFrame,
    campaign_date,
    *,
    horizons: Sequence[int] = DEFAULT_HORIZONS,
) -> pd.DataFrame:
    """Return retention, survival and revenue outcomes after the campaign, one row per assigned customer.

    Parameters
    ----------
    dataset : Dataset
        The world after the campaign (needs ``subscriptions`` and ``payments``) observed at least to
        ``campaign_date + max(horizons)``.
    assignment : DataFrame
        ``customer_id, arm`` (from :func:`churnlab.experiment.assign.assign`).
    campaign_date : timestamp
        Day the offers went out.
    horizons : sequence of int
        Days after the campaign for ``retained_<d>``.

    Returns
    -------
    DataFrame
        ``customer_id, arm, retained_<d>..., duration, event, revenue``: ``retained_d`` is 1 when the
        spell (merged subscriptions, :func:`churnlab.labels.customer_spells`) running at the campaign date has
        not ended by ``campaign_date + d``, so a renewal is no churn; ``duration`` is days
        to that end or to the last horizon (censored, ``event`` False); ``revenue`` is the amount paid in
        ``(campaign_date, campaign_date + max(horizons)]``.

    Raises
    ------
    AnalysisError
        When the data end before the last horizon or an assigned customer was not active at the campaign date.
    SchemaError
        When ``assignment`` lacks ``customer_id`` or ``arm``.
    """
    dataset.require("subscriptions", "payments", by="campaign_outcomes")
    require_columns(assignment, [C.CUSTOMER_ID, "arm"], table="assignment")
    t = pd.Timestamp(campaign_date)
    h = int(max(horizons))
    as_of = getattr(dataset, "as_of", None)
    if as_of is not None and pd.Timestamp(as_of) < t + pd.Timedelta(days=h):
        raise AnalysisError(f"the data end at {as_of}, before the last horizon {t + pd.Timedelta(days=h)}")
    # the spell running at the campaign date, read with everything after it: its end is the churn
    spells = customer_spells(dataset["subscriptions"])
    running = spells[active_at(spells, t)].set_index(C.CUSTOMER_ID)
    ids = assignment[C.CUSTOMER_ID].astype(str).reset_index(drop=True)
    absent = ~ids.isin(running.index)
    if absent.any():
        raise AnalysisError(
            f"assignment.customer_id: {int(absent.sum())} assigned customers were not active at the campaign date "
            f"{t.date()} (e.g. {list(ids[absent][:3])}); retention outcomes need customers active then")
    end = ids.map(running["end_at"])
    days = (end - t).dt.total_seconds() / 86400
    out = assignment[[C.CUSTOMER_ID, "arm"]].copy().reset_index(drop=True)
    for d in horizons:
        out[f"retained_{d}"] = (days.isna() | (days > d)).astype(float)
    out["event"] = (days.notna() & (days <= h)).to_numpy()
    out["duration"] = np.where(out["event"], days.fillna(h), float(h))
    pay = dataset["payments"]
    pay = pay[pay["paid_at"].notna() & (pay["paid_at"] > t) & (pay["paid_at"] <= t + pd.Timedelta(days=h))]
    revenue = pay.groupby("customer_id")["amount"].sum()
    out["revenue"] = out["customer_id"].map(revenue).fillna(0.0).astype(float).to_numpy()
    return out


def value_per_retained(covariates: pd.DataFrame, months: float = 3.0) -> pd.Series:
    """Return the revenue one retained customer brings over the horizon: ``monthly_fee x months``.

    Parameters
    ----------
    covariates : DataFrame
        ``customer_id, monthly_fee`` (from :func:`pre_period_covariates`).
    months : float
        Length of the horizon in months.

    Returns
    -------
    Series
        Indexed like ``covariates``; missing fees get the median fee.
    """
    fee = covariates["monthly_fee"].astype(float)
    return fee.fillna(fee.median()) * months


def true_effects(effects: pd.DataFrame, assignment: pd.DataFrame, *, control: str = HOLDOUT) -> pd.DataFrame:
    """Return the world's true average effect per offer over the experiment's audience.

    Parameters
    ----------
    effects : DataFrame
        ``CampaignTruth.effects``: ``customer_id, offer, retained_if_treated, retained_if_control,
        p_retain_treated, p_retain_control``.
    assignment : DataFrame
        ``customer_id, arm``.
    control : str
        Holdout arm label.

    Returns
    -------
    DataFrame
        ``arm, truth_ate, truth_ate_prob``: mean of ``retained_if_treated - retained_if_control`` and of
        ``p_retain_treated - p_retain_control`` over all assigned customers (the roll-out estimand).
    """
    e = effects[effects["customer_id"].isin(assignment["customer_id"])]
    rows = []
    for offer, part in e.groupby("offer", sort=True):
        if offer == control:
            continue
        rows.append({"arm": offer,
                     "truth_ate": float((part["retained_if_treated"].astype(float)
                                         - part["retained_if_control"].astype(float)).mean()),
                     "truth_ate_prob": float((part["p_retain_treated"] - part["p_retain_control"]).mean())})
    return pd.DataFrame(rows, columns=["arm", "truth_ate", "truth_ate_prob"])


def reactivation_outcomes(dataset: Dataset, assignment: pd.DataFrame, campaign_date, *, horizon_days: int = 90
                          ) -> pd.DataFrame:
    """Return whether each churned, assigned customer came back within the horizon (win-back outcome).

    Parameters
    ----------
    dataset : Dataset
        The world after the campaign (needs ``subscriptions``).
    assignment : DataFrame
        ``customer_id, arm`` of churned customers.
    campaign_date : timestamp
        Day the win-back offers went out.
    horizon_days : int
        Days after the campaign a new subscription counts as a reactivation.

    Returns
    -------
    DataFrame
        ``customer_id, arm, reactivated`` (1.0 when a new spell starts in ``(date, date + horizon]``).

    Raises
    ------
    AnalysisError
        When the data end before the horizon.
    """
    dataset.require("subscriptions", by="reactivation_outcomes")
    require_columns(assignment, [C.CUSTOMER_ID, "arm"], table="assignment")
    t = pd.Timestamp(campaign_date)
    as_of = getattr(dataset, "as_of", None)
    if as_of is not None and pd.Timestamp(as_of) < t + pd.Timedelta(days=horizon_days):
        raise AnalysisError(f"the data end at {as_of}, before the win-back horizon "
                            f"{t + pd.Timedelta(days=horizon_days)}")
    spells = customer_spells(dataset["subscriptions"])
    back = spells[(spells["start_at"] > t) & (spells["start_at"] <= t + pd.Timedelta(days=horizon_days))]
    out = assignment[[C.CUSTOMER_ID, "arm"]].copy().reset_index(drop=True)
    out["reactivated"] = out[C.CUSTOMER_ID].isin(back[C.CUSTOMER_ID]).astype(float)
    return out
