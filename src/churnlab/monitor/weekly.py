"""The weekly job in one call: score, list, monitor, alert (the notebook, ``churnlab score`` and the benchmark).

:func:`run_weekly` takes the data as of this run and the registered model and returns a
:class:`WeeklyReport`: the CRM list and the action list, the CRM views' lists and their record on the last
matured window, the monitoring table of this run and the previous ``runs`` (customer metrics by segment,
expected churn per window, score drift, model quality on the newly matured window), expected vs realised
churn per window, feature drift against the training window, and the alerts.

Each earlier run is recomputed from the data as it was then (features, calibration and labels are point in
time), with the model scoring now: OPINIONS.md, "Monitoring: previous runs recomputed".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from churnlab import config as C
from churnlab.errors import AnalysisError
from churnlab.features import build_features
from churnlab.intervals import z_value
from churnlab.labels import make_label_times, monthly_cutoffs
from churnlab.modeling.calibration import calibrate
from churnlab.monitor.alerts import AlertRule, evaluate_alerts, load_alerts
from churnlab.monitor.drift import feature_drift, psi, window_quality
from churnlab.monitor.expected import expected_churn, reconcile
from churnlab.monitor.holdout import DEFAULT_PROGRAM_ID, DEFAULT_PROGRAM_SHARE
from churnlab.monitor.metrics import ALL, METRIC_COLUMNS, metric_rows, run_dates, window_metrics
from churnlab.monitor.scoring import DEFAULT_CALIBRATION, action_list, model_frame, score_customers
from churnlab.monitor.signals import add_crm_signals
from churnlab.monitor.views import ViewSet, load_views, view_lists, view_performance
from churnlab.patterns.rules import RuleSet
from churnlab.schema import Dataset

__all__ = ["WeeklyReport", "run_weekly", "reference_cutoffs", "DEFAULT_RUNS", "DEFAULT_ACTION_SHARE"]

#: Earlier weekly runs each run is compared with (OPINIONS.md, "Monitoring: previous runs recomputed").
DEFAULT_RUNS = 8
#: Share of scored customers on the action list (before the holdout is removed).
DEFAULT_ACTION_SHARE = 0.1


@dataclass(frozen=True)
class WeeklyReport:
    """Everything one weekly run produced (see :func:`run_weekly`)."""

    as_of: pd.Timestamp
    horizon_days: int
    crm: pd.DataFrame = field(repr=False)
    actions: pd.DataFrame = field(repr=False)
    views: pd.DataFrame = field(repr=False)
    view_performance: pd.DataFrame = field(repr=False)
    metrics: pd.DataFrame = field(repr=False)
    expected: pd.DataFrame = field(repr=False)
    drift: pd.DataFrame = field(repr=False)
    quality: dict = field(repr=False)
    alerts: pd.DataFrame = field(repr=False)
    settings: dict = field(default_factory=dict, repr=False)

    @property
    def fired(self) -> pd.DataFrame:
        """The alerts that fired."""
        return self.alerts[self.alerts["fired"].astype(bool)].reset_index(drop=True)

    def current(self, metric: str, segment: str = ALL) -> float:
        """Return this run's value of a monitored metric (NaN when absent)."""
        m = self.metrics
        rows = m[(m["metric"] == metric) & (m["segment"] == segment) & (m["run_at"] == self.as_of)]
        return float(rows["value"].iloc[-1]) if len(rows) else float("nan")

    def headline(self) -> dict[str, float]:
        """Return the numbers a run logs: counts, this week's metrics, expected churn, quality, drift, alerts."""
        matured = self.expected[self.expected["matured"]]
        out = {"n_scored": float(len(self.crm)), "n_actions": float(len(self.actions)),
               "n_holdout_scored": float(self.crm["holdout"].sum()),
               "n_holdout_in_actions": float(self.actions["holdout"].sum()),
               "mean_probability": float(self.crm["probability"].mean()),
               "value_at_risk": float(np.nansum(self.crm["value_at_risk"])),
               "alerts_fired": float(len(self.fired)), "alerts_checked": float(len(self.alerts))}
        for metric in ("churn_rate", "churn_rate_net", "churn_rate_gross", "retention_rate", "reactivation_rate",
                       "revenue_churn_rate", "average_lifetime_months", "unsubscribe_rate", "export_rate",
                       "expected_churn_rate", "score_psi"):
            out[metric] = self.current(metric)
        if len(matured):
            last = matured.iloc[-1]
            out.update(last_matured_expected=float(last["expected"]), last_matured_realised=float(last["realised"]),
                       last_matured_gap=float(last["gap"]), matured_covered_share=float(matured["covered"].mean()))
        open_ = self.expected[~self.expected["matured"]]
        if len(open_):
            out["open_windows_expected"] = float(open_["expected"].sum())
        for key in ("roc_auc", "brier", "auc_drop", "calibration_gap", "training_roc_auc"):
            if key in self.quality:
                out[f"window_{key}"] = float(self.quality[key])
        if len(self.drift):
            out["max_feature_psi"] = float(self.drift["psi"].max())
        return out

    def __repr__(self) -> str:
        return (f"WeeklyReport(as_of={self.as_of.date()}, {len(self.crm):,} scored, {len(self.actions):,} to act on, "
                f"{len(self.fired)} of {len(self.alerts)} alerts fired)")


def reference_cutoffs(dataset: Dataset, *, horizon_days: int = 30, tags: Mapping[str, str] | None = None,
                      n: int = 3) -> list[pd.Timestamp]:
    """Return the cutoffs of the model's training window, the drift reference.

    The registered version's tag ``churnlab.training_cutoffs`` (set by the weekly job's own training) when
    present; else the first ``n`` monthly cutoffs of the data, where notebook 02's time split trains.

    Raises
    ------
    AnalysisError
        When the data has no monthly cutoff.
    """
    text = (tags or {}).get("churnlab.training_cutoffs", "")
    if text:
        return [pd.Timestamp(t) for t in text.split(",") if t][-n:]
    cuts = monthly_cutoffs(dataset, horizon_days=horizon_days)
    if not cuts:
        raise AnalysisError(f"reference_cutoffs: {dataset.name!r} has no monthly cutoff to compare drift with")
    return cuts[:n]


def _segment_of(features: pd.DataFrame) -> pd.Series:
    if C.SEGMENT in features.columns:
        return features[C.SEGMENT].astype("string").fillna("unknown")
    return pd.Series(ALL, index=features.index, dtype="string")


class _Scores:
    """Stands in for a model whose scores are already computed: ``predict_proba(scores)``."""

    def predict_proba(self, scores) -> np.ndarray:
        s = np.asarray(scores, dtype=float)
        return np.column_stack([1 - s, s])


def _features(dataset: Dataset, cutoff: pd.Timestamp, cache: dict) -> pd.DataFrame:
    """Features of everyone active at ``cutoff`` (the same rows as its label times), cached by cutoff."""
    key = ("features", pd.Timestamp(cutoff))
    if key not in cache:
        cache[key] = build_features(dataset, [pd.Timestamp(cutoff)])
    return cache[key]


def _scored(dataset: Dataset, model, cutoff: pd.Timestamp, cache: dict) -> tuple[pd.DataFrame, np.ndarray]:
    key = ("score", pd.Timestamp(cutoff))
    frame = _features(dataset, cutoff, cache)
    if key not in cache:
        cache[key] = model.predict_proba(model_frame(frame, model))[:, 1]
    return frame, cache[key]


def _labelled(dataset: Dataset, model, cutoff: pd.Timestamp, labels: pd.DataFrame, cache: dict) -> pd.DataFrame:
    """Return the customers of the window opened at ``cutoff``: ``customer_id, score, label``."""
    frame, score = _scored(dataset, model, cutoff, cache)
    lab = labels[labels[C.CUTOFF] == cutoff]
    out = pd.DataFrame({C.CUSTOMER_ID: frame[C.CUSTOMER_ID].astype(str).to_numpy(), "score": score})
    out = out.merge(lab[[C.CUSTOMER_ID, C.LABEL]].astype({C.CUSTOMER_ID: str}), on=C.CUSTOMER_ID, how="inner")
    return out.assign(label=out[C.LABEL].astype(int))


def run_weekly(dataset: Dataset, model, *, as_of=None, horizon_days: int = 30, runs: int = DEFAULT_RUNS,
               every_days: int = 7, training: Mapping[str, float] | None = None,
               reference: pd.DataFrame | None = None, views: ViewSet | None = None,
               alert_rules: Sequence[AlertRule] | None = None, rules: RuleSet | None = None,
               action_share: float = DEFAULT_ACTION_SHARE, program_id: str = DEFAULT_PROGRAM_ID,
               holdout_share: float = DEFAULT_PROGRAM_SHARE, holdout_salt: str = "",
               calibration: str = DEFAULT_CALIBRATION, alpha: float = 0.05, alert_alpha: float = 0.01,
               reasons: bool = True, cache: dict | None = None) -> WeeklyReport:
    """Run the weekly job on the data as of ``as_of`` with the registered model.

    Parameters
    ----------
    dataset : Dataset
        Event data with ``subscriptions`` (read only as of each run date).
    model : ChurnXGBClassifier
        The champion (:func:`churnlab.modeling.registry.load_model`).
    as_of : timestamp, optional
        This run; default ``dataset.as_of``.
    horizon_days : int, default 30
        The model's label window: a window opened at ``t`` matures at ``t + horizon_days``.
    runs : int, default 8
        Earlier weekly runs to compare with.
    every_days : int, default 7
        Days between runs.
    training : mapping, optional
        The model's training ``roc_auc, brier`` (:func:`churnlab.monitor.drift.training_figures`).
    reference : DataFrame, optional
        Features of the training window (drift reference); default built at :func:`reference_cutoffs`.
    views : ViewSet, optional
        CRM views; default the packaged ones.
    alert_rules : sequence of AlertRule, optional
        Default the packaged ones.
    rules : RuleSet, optional
        Risk rules for the zone; default the packaged ones.
    action_share : float, default 0.1
        Share of scored customers on the action list, ranked by value at risk (holdout removed after the cut).
    program_id, holdout_share, holdout_salt
        The persistent programme holdout.
    calibration : str, default "sigmoid"
        Method of each run's calibration on its latest matured window.
    alpha : float, default 0.05
        Level of the reported intervals.
    alert_alpha : float, default 0.01
        Level of the intervals of the model metrics that alerts read (PSI, gap, AUC).
    reasons : bool, default True
        Reason codes on the CRM list.
    cache : dict, optional
        Features and scores by cutoff, kept between calls (consecutive runs share most of their cutoffs;
        the benchmark passes one dict through a simulated year). Only valid for one dataset and model.

    Returns
    -------
    WeeklyReport

    Raises
    ------
    AnalysisError
        When the data has too little history (a run's calibration window is not observed).
    MissingTableError
        Without ``subscriptions``.
    """
    dataset.require("subscriptions", by="run_weekly (the weekly job needs subscription spells)")
    as_of = dataset.as_of if as_of is None else pd.Timestamp(as_of)
    horizon = pd.Timedelta(days=horizon_days)
    dates = run_dates(as_of, runs, every_days)
    cache = cache if cache is not None else {}
    cal_labels = make_label_times(dataset, [d - horizon for d in dates], horizon_days=horizon_days).table
    rows: list[dict] = []
    expected_rows, scored = [], {}
    z = z_value(alert_alpha)
    for d in dates:
        cal = _labelled(dataset, model, d - horizon, cal_labels, cache)
        if cal["label"].min() == cal["label"].max():
            raise AnalysisError(f"run_weekly: the calibration window {(d - horizon).date()} has a single class")
        mapper = calibrate(_Scores(), cal["score"].to_numpy(), cal["label"].to_numpy(), method=calibration)
        now, score = _scored(dataset, model, d, cache)
        p = mapper.predict_proba(score)[:, 1]
        scored[d] = (now, score, p, replace(mapper, model=model))
        seg = _segment_of(now)
        for name, mask in [(ALL, np.ones(len(now), dtype=bool))] + [(s, (seg == s).to_numpy()) for s in
                                                                     sorted(seg.unique()) if s != ALL]:
            e = expected_churn(p[mask], alpha=alpha, calibration_events=int(cal["label"].sum()))
            rows.append(metric_rows(d, d, d + horizon, "expected_churn_rate", name, e.n, e.expected, e.rate,
                                    e.lower / e.n, e.upper / e.n))
            if name == ALL:
                expected_rows.append({C.CUTOFF: d, **e.to_dict()})
    expected = reconcile(pd.DataFrame(expected_rows), dataset, horizon_days=horizon_days, as_of=as_of)
    # the newly matured window of this run: the latest whose labels are in
    matured = expected[expected["matured"]]
    quality: dict = {}
    if len(matured):
        last = matured.iloc[-1]
        window = pd.Timestamp(last["cutoff"])
        frame, _, p, _ = scored[window]
        labels = make_label_times(dataset, [window], horizon_days=horizon_days).table
        y = frame[[C.CUSTOMER_ID]].astype(str).merge(
            labels.assign(**{C.CUSTOMER_ID: labels[C.CUSTOMER_ID].astype(str)}), on=C.CUSTOMER_ID, how="left")[C.LABEL]
        keep = y.notna().to_numpy()
        try:
            quality = window_quality(y[keep].astype(int), p[keep], training=training, alpha=alert_alpha)
        except AnalysisError:
            quality = {}
        sd = float(np.sqrt(pd.DataFrame(expected_rows).set_index(C.CUTOFF).loc[window, "variance"]))
        gap_rate = float(last["gap"]) / float(last["n"])
        rows.append(metric_rows(as_of, window, window + horizon, "churn_gap", ALL, last["n"], last["realised"],
                                gap_rate, gap_rate - z * sd / last["n"], gap_rate + z * sd / last["n"]))
        if quality:
            rows.append(metric_rows(as_of, window, window + horizon, "roc_auc", ALL, quality["n"], quality["churners"],
                                    quality["roc_auc"], quality["roc_auc_lower"], quality["roc_auc_upper"]))
            drop = quality["auc_drop"]
            rows.append(metric_rows(as_of, window, window + horizon, "auc_drop", ALL, quality["n"], quality["churners"],
                                    drop, quality["training_roc_auc"] - quality["roc_auc_upper"],
                                    quality["training_roc_auc"] - quality["roc_auc_lower"]))
    # score drift against the training window
    if reference is None:
        reference = build_features(dataset, reference_cutoffs(dataset, horizon_days=horizon_days))
    ref_X = model_frame(reference, model)
    ref_scores = model.predict_proba(ref_X)[:, 1]
    for d in dates:
        s = psi(ref_scores, scored[d][1], alpha=alert_alpha)
        rows.append(metric_rows(d, d, d, "score_psi", ALL, s["n_current"], np.nan, s["psi"], s["psi_lower"],
                                s["psi_upper"]))
    current, _, _, calibrator = scored[as_of]
    numeric = [c for c in model.feature_names_in_ if c in reference.columns
               and pd.api.types.is_numeric_dtype(reference[c]) and not pd.api.types.is_bool_dtype(reference[c])]
    drift = feature_drift(reference, current, numeric, n_boot=100, alpha=alert_alpha)
    rows.extend(window_metrics(dataset, dates, every_days=every_days, alpha=alpha).to_dict("records"))
    table = pd.DataFrame(rows, columns=list(METRIC_COLUMNS))
    # this week's lists
    crm = score_customers(model, dataset, as_of=as_of, calibrator=calibrator, features=current, rules=rules,
                          reasons=reasons, program_id=program_id, holdout_share=holdout_share,
                          holdout_salt=holdout_salt)
    actions = action_list(crm, top_share=action_share)
    viewset = views if views is not None else load_views()
    signals_now = add_crm_signals(dataset, current, breaks=viewset.breaks)
    held = signals_now[C.CUSTOMER_ID].astype(str).isin(set(crm.loc[crm["holdout"], C.CUSTOMER_ID].astype(str)))
    lists = view_lists(viewset, signals_now, holdout=held.to_numpy())
    last_window = as_of - horizon
    signals_then = add_crm_signals(dataset, _features(dataset, last_window, cache), breaks=viewset.breaks)
    performance = view_performance(viewset, signals_then, cal_labels[cal_labels[C.CUTOFF] == last_window], alpha=alpha)
    alerts = evaluate_alerts(table, alert_rules if alert_rules is not None else load_alerts(), run_at=as_of)
    settings = {"as_of": as_of.isoformat(), "horizon_days": horizon_days, "runs": runs, "every_days": every_days,
                "action_share": action_share, "program_id": program_id, "holdout_share": holdout_share,
                "calibration": calibration, "alpha": alpha, "alert_alpha": alert_alpha,
                "reference_cutoffs": sorted({pd.Timestamp(c).date().isoformat() for c in reference[C.CUTOFF]})}
    return WeeklyReport(as_of=as_of, horizon_days=horizon_days, crm=crm, actions=actions, views=lists,
                        view_performance=performance, metrics=table, expected=expected, drift=drift,
                        quality=quality, alerts=alerts, settings=settings)
