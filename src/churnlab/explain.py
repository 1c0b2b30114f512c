"""Why the model scores a customer as it does: SHAP values, importances and reason codes in plain words.

SHAP values of the XGBoost model come from XGBoost's own ``pred_contribs`` (exact TreeSHAP; shap's
TreeExplainer hands XGBoost models to the same routine, FIELD_NOTES "SHAP and XGBoost"), computed in
batches of rows so memory stays bounded however many rows are explained. Each row's values plus the
base value sum to the model's margin (log-odds). :meth:`Explanation.to_shap` (or ``.shap``) hands the
same numbers to the ``shap`` package as a ``shap.Explanation`` with readable feature names, so
``shap.plots.beeswarm``, ``waterfall``, ``scatter`` and ``bar`` work on it. Reason codes are a
customer's features with the largest positive contributions, worded by :func:`reason_text`: the
workbench's own features in plain words (:func:`churnlab.features.describe_feature`: "no session for 24
days", "2 unresolved tickets"), any other column (a user's ``SupportCalls``) by its readable name and
value ("Support calls: 3").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from churnlab import config as C
from churnlab.errors import ModelError
from churnlab.features import describe_feature

if TYPE_CHECKING:
    import shap

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "Explanation",
    "FEATURE_LABELS",
    "MECHANISM_FEATURES",
    "drivers_found",
    "explain",
    "feature_label",
    "global_importance",
    "importance_by_segment",
    "reason_codes",
    "reason_text",
    "risk_list",
]


@dataclass(frozen=True)
class Explanation:
    """SHAP values of a set of rows with the feature values they explain.

    Attributes
    ----------
    values : DataFrame
        One row per explained row, one column per feature: contribution to the log-odds of churn.
    base_value : float
        The model's expected margin; ``values.sum(axis=1) + base_value`` = margin.
    data : DataFrame
        The explained feature values (same rows and columns as ``values``).
    keys : DataFrame
        ``customer_id, cutoff`` of each row (empty columns when unknown).
    """

    values: pd.DataFrame
    base_value: float
    data: pd.DataFrame
    keys: pd.DataFrame = field(repr=False)

    @property
    def margin(self) -> np.ndarray:
        """Log-odds the model gives each row (sum of contributions and base value)."""
        return self.values.sum(axis=1).to_numpy() + self.base_value

    @property
    def summary(self) -> pd.DataFrame:
        """Global importance: :func:`global_importance` of these values."""
        return global_importance(self)

    def sample(self, n: int, *, random_state: int = 0) -> Explanation:
        """Return a random subset of ``n`` rows (all rows when fewer), for plots."""
        if n >= len(self.values):
            return self
        idx = np.sort(np.random.default_rng(random_state).choice(len(self.values), size=n, replace=False))
        return Explanation(self.values.iloc[idx].reset_index(drop=True), self.base_value,
                           self.data.iloc[idx].reset_index(drop=True), self.keys.iloc[idx].reset_index(drop=True))

    def to_shap(self, feature_names: Mapping[str, str] | None = None) -> shap.Explanation:
        """Return these values as a ``shap.Explanation`` for shap's own plots.

        Parameters
        ----------
        feature_names : dict of str to str, optional
            Display name of a feature, overriding :func:`feature_label` (e.g. for a user's own columns).

        Returns
        -------
        shap.Explanation
            ``values`` (rows × features, log-odds), ``base_values`` (the base value on every row),
            ``data`` (numbers; a text or categorical column as category codes in sorted order, missing
            as NaN, so beeswarm and scatter can colour by it), ``display_data`` (the values as given,
            decimals to 3 significant digits: a waterfall shows ``B2B``, not its code, and ``6.8``, not
            ``6.799``) and readable ``feature_names``.

        Notes
        -----
        ``shap.plots.beeswarm(e)``, ``shap.plots.bar(e)``, ``shap.plots.scatter(e[:, "Tenure days"])``
        and ``shap.plots.waterfall(e[0])`` draw it. Customer ids are not passed (plots end in reports).
        """
        import shap

        names = [(feature_names or {}).get(c, feature_label(c)) for c in self.values.columns]
        n = len(self.values)
        return shap.Explanation(
            values=self.values.to_numpy(dtype=float),
            base_values=np.full(n, self.base_value, dtype=float),
            data=np.column_stack([_numeric(self.data[c]) for c in self.data.columns]) if n else
            np.empty((0, self.data.shape[1])),
            display_data=np.column_stack([_display(self.data[c]) for c in self.data.columns]) if n else None,
            feature_names=names,
        )

    @property
    def shap(self) -> shap.Explanation:
        """These values as a ``shap.Explanation`` with readable names (:meth:`to_shap`)."""
        return self.to_shap()

    def __len__(self) -> int:
        return len(self.values)

    def __repr__(self) -> str:
        top = ", ".join(self.summary["feature"].head(3))
        return f"Explanation({len(self.values):,} rows, {self.values.shape[1]} features, top: {top})"

    def _repr_html_(self) -> str:
        return (f"<p><b>Explanation</b> of {len(self.values):,} rows, base value {self.base_value:.3f} (log-odds)</p>"
                + self.summary.head(15).to_html(index=False, float_format=lambda v: f"{v:.4f}"))


#: Rows per call to the model's tree contributions (OPINIONS.md, "SHAP batch size"): the encoded
#: batch and XGBoost's work buffers stay a few MB whatever the number of rows; only the result grows.
DEFAULT_BATCH_SIZE = 10_000


def explain(model, X: pd.DataFrame, keys: pd.DataFrame | None = None, *,
            batch_size: int | None = DEFAULT_BATCH_SIZE) -> Explanation:
    """Compute SHAP values of an XGBoost churn model for the rows of X.

    Parameters
    ----------
    model : ChurnXGBClassifier
        Fitted (anything with ``contributions(X)`` returning features + ``base_value``).
    X : DataFrame
        Feature columns, as in training.
    keys : DataFrame, optional
        ``customer_id, cutoff`` of each row, carried to reason codes.
    batch_size : int or None, default :data:`DEFAULT_BATCH_SIZE`
        Rows per call to the model; ``None`` explains all rows in one call. The values do not depend
        on it (each row's TreeSHAP is computed on its own).

    Returns
    -------
    Explanation
        Use ``.shap`` for a ``shap.Explanation`` (shap's plots).

    Raises
    ------
    ModelError
        When the model has no tree contributions (e.g. a logistic baseline), X has no rows, keys
        have another number of rows, or ``batch_size`` is not a positive integer.

    Notes
    -----
    Additivity: ``sum_j phi_ij + phi_0 = margin_i`` (Lundberg & Lee 2017, eq. 1; Lundberg et al. 2020,
    TreeSHAP), to float32 precision (XGBoost computes in float32). Cost grows with rows × trees ×
    depth²: explain a sample for plots (FIELD_NOTES: 10k rows ~8 s for 200 depth-6 trees on 2 threads).
    Memory: the result (rows × features, float32) plus one batch.

    References
    ----------
    .. [1] Lundberg & Lee (2017) A unified approach to interpreting model predictions. NeurIPS.
    .. [2] Lundberg et al. (2020) From local explanations to global understanding with explainable AI for trees.
    """
    if not hasattr(model, "contributions"):
        raise ModelError(f"explain: {type(model).__name__} has no tree contributions; explain the XGBoost model")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
                                   or batch_size < 1):
        raise ModelError(f"explain: batch_size must be a positive integer or None, got {batch_size!r}")
    if len(X) == 0:
        raise ModelError("explain: X has no rows; expected at least one row of features")
    if keys is not None and len(keys) != len(X):
        raise ModelError(f"explain: keys has {len(keys)} rows, X has {len(X)}; expected one key row per row of X")
    values, base = _contributions(model, X, batch_size or len(X))
    data = X[list(values.columns)].reset_index(drop=True)
    if keys is None:
        keys = pd.DataFrame({C.CUSTOMER_ID: pd.Series([pd.NA] * len(X), dtype="string"),
                             C.CUTOFF: pd.Series([pd.NaT] * len(X), dtype="datetime64[ns]")})
    return Explanation(values=values, base_value=base, data=data, keys=keys.reset_index(drop=True))


def _contributions(model, X: pd.DataFrame, batch_size: int) -> tuple[pd.DataFrame, float]:
    """Feature contributions (rows × features) and the base value, computed ``batch_size`` rows at a time."""
    values: np.ndarray | None = None
    columns: list[str] = []
    base = np.nan
    for start in range(0, len(X), batch_size):
        batch = model.contributions(X.iloc[start:start + batch_size])
        if values is None:
            columns = [c for c in batch.columns if c != "base_value"]
            values = np.empty((len(X), len(columns)), dtype=batch[columns[0]].dtype if columns else np.float32)
            base = float(batch["base_value"].iloc[0])
        values[start:start + len(batch)] = batch[columns].to_numpy()
    return pd.DataFrame(values, columns=columns, copy=False), base


def _numeric(column: pd.Series) -> np.ndarray:
    """Turn a feature column into float64 for shap's colours: numbers as they are, categories as sorted codes."""
    if column.dtype.kind in "fiub":
        return column.to_numpy(dtype=float, na_value=np.nan)
    text = column.astype("string")
    codes = pd.Categorical(text, categories=sorted(text.dropna().unique())).codes.astype(float)
    codes[codes < 0] = np.nan
    return codes


def _display(column: pd.Series) -> np.ndarray:
    """Turn a feature column into objects for shap's labels: text as given, numbers to 3 significant digits."""
    if column.dtype.kind == "f":
        return np.array([float(f"{v:.3g}") for v in column.to_numpy(dtype=float)], dtype=object)
    out = column.astype(object).to_numpy(copy=True)
    out[pd.isna(out)] = np.nan
    return out


#: Display names that the generic rule of :func:`feature_label` would word badly.
FEATURE_LABELS: dict[str, str] = {
    "session_ratio_7d_90d": "Sessions last 7 days vs 90-day pace",
    "sessions_30d_vs_segment": "Sessions (30 days) vs segment",
    "sessions_per_active_day_30d": "Sessions per active day (30 days)",
    "recency_vs_rhythm": "Usual sessions missed since the last one",
    "activated_14d": "Activated within 14 days",
    "tickets_no_fcr_90d": "Tickets not solved at first contact (90 days)",
    "bad_tickets_90d": "Bad support experiences (90 days)",
    "bad_tickets_30d": "Bad support experiences (30 days)",
    "email_open_rate_drop": "Drop in email open rate",
    "tickets_emotional_90d": "Complaints (90 days)",
    "tickets_financial_30d": "Billing tickets (30 days)",
    "overdue_invoices": "Invoices past due",
    "components_stopped": "Components stopped",
    "monthly_fee": "Monthly fee",
    "tenure_days": "Tenure (days)",
}

_ACRONYMS = {"nps": "NPS", "csat": "CSAT", "fcr": "FCR", "ui": "UI", "id": "ID"}
# Word boundaries inside CamelCase: "MonthlyCharge" -> Monthly|Charge, "DataGB" -> Data|GB, "NPSScore" -> NPS|Score.
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def feature_label(name: str) -> str:
    """Name a feature for people: words, acronyms in capitals, a trailing window as "(N days)".

    Snake case and CamelCase (a user's own columns) both become words; a word written in capitals
    (``GB``, ``NPS``) keeps them, the others after the first are lower case.

    Examples
    --------
    >>> feature_label("days_since_last_session"), feature_label("sessions_7d"), feature_label("last_nps")
    ('Days since last session', 'Sessions (7 days)', 'Last NPS')
    >>> feature_label("session_ratio_7d_90d"), feature_label("Contract")
    ('Sessions last 7 days vs 90-day pace', 'Contract')
    >>> feature_label("MonthlyCharge"), feature_label("DataGB"), feature_label("support calls")
    ('Monthly charge', 'Data GB', 'Support calls')
    """
    if name in FEATURE_LABELS:
        return FEATURE_LABELS[name]
    window = re.search(r"_(\d+)d$", name)
    stem = name[: window.start()] if window else name
    parts = [p for chunk in re.split(r"[_\s]+", stem) for p in _CAMEL.split(chunk) if p]
    if not parts:
        return name
    words = []
    for i, w in enumerate(parts):
        if w.lower() in _ACRONYMS:
            words.append(_ACRONYMS[w.lower()])
        elif len(w) > 1 and w.isupper():
            words.append(w)
        else:
            words.append(w.lower() if i else w[0].upper() + w[1:])
    label = " ".join(words)
    return f"{label} ({window.group(1)} days)" if window else label


# "1 days", "1 data exports", "1 unresolved tickets": a count of one takes the singular.
_ONE_PLURAL = re.compile(r"(?<![\d.,])\b1 ((?:[a-z()]+ ){0,2}?)(day|session|purchase|export|ticket|component|invoice|"
                         r"payment|call|complaint|experience|email|message)s\b")


def reason_text(feature: str, value: object) -> str:
    """Say why a feature raises a customer's risk, in plain words, for any feature name.

    Parameters
    ----------
    feature : str
        Feature (column) name: one of the workbench's (:data:`churnlab.features.FEATURE_DESCRIPTIONS`) or
        any other, such as a snapshot's own ``SupportCalls``.
    value : object
        The customer's value of the feature.

    Returns
    -------
    str
        The workbench's wording when it knows the feature (a count of one in the singular), else
        ``"<readable name>: <value>"`` with :func:`feature_label` and the value to 3 significant digits;
        a missing value reads ``"<readable name> unknown"``.

    Examples
    --------
    >>> reason_text("days_since_last_session", 24.0), reason_text("days_since_last_export", 1.0)
    ('no session for 24 days', 'last data export 1 day ago')
    >>> reason_text("SupportCalls", 3), reason_text("MonthlyCharge", 34.3412), reason_text("Contract", "Monthly")
    ('Support calls: 3', 'Monthly charge: 34.3', 'Contract: Monthly')
    >>> reason_text("last_nps", float("nan"))
    'Last NPS unknown'
    """
    if value is None or value is pd.NA or (isinstance(value, (float, np.floating)) and np.isnan(value)):
        return f"{feature_label(feature)} unknown"
    worded = describe_feature(feature, value)
    if not worded.startswith(f"{feature} = "):
        return _ONE_PLURAL.sub(r"1 \1\2", worded)
    if isinstance(value, (bool, np.bool_)):
        shown = "yes" if value else "no"
    elif isinstance(value, (int, np.integer)) or (isinstance(value, (float, np.floating))
                                                  and float(value).is_integer()):
        shown = f"{value:,.0f}"
    elif isinstance(value, (float, np.floating)):
        shown = f"{value:.3g}"
    else:
        shown = str(value)
    return f"{feature_label(feature)}: {shown}"


def global_importance(explanation: Explanation) -> pd.DataFrame:
    """Rank features by mean absolute SHAP value, largest first.

    Returns
    -------
    DataFrame
        One row per feature: ``feature, mean_abs_shap, mean_shap, share`` (share of the total of
        mean absolute values).
    """
    v = explanation.values
    mean_abs = v.abs().mean()
    out = pd.DataFrame({"feature": v.columns, "mean_abs_shap": mean_abs.to_numpy(), "mean_shap": v.mean().to_numpy()})
    total = out["mean_abs_shap"].sum()
    out["share"] = out["mean_abs_shap"] / total if total > 0 else 0.0
    return out.sort_values("mean_abs_shap", ascending=False, kind="stable").reset_index(drop=True)


def importance_by_segment(explanation: Explanation, segment: pd.Series | np.ndarray, *,
                          top_n: int = 10) -> pd.DataFrame:
    """Compute mean absolute SHAP value per feature within each segment (e.g. B2B vs B2C).

    Parameters
    ----------
    explanation : Explanation
        SHAP values to split.
    segment : array-like
        Segment of each explained row.
    top_n : int, default 10
        Keep the features in the overall top ``top_n``.

    Returns
    -------
    DataFrame
        Index = feature (overall order), one column per segment, values = mean |SHAP|.
    """
    seg = pd.Series(np.asarray(segment), name="segment").astype("string").fillna("unknown")
    if len(seg) != len(explanation.values):
        raise ModelError(f"importance_by_segment: {len(seg)} segments for {len(explanation.values)} explained rows")
    top = global_importance(explanation)["feature"].head(top_n).tolist()
    table = explanation.values[top].abs().groupby(seg.to_numpy()).mean().T
    table.index.name = "feature"
    return table


def reason_codes(explanation: Explanation, *, top_n: int = 3, min_contribution: float = 0.0) -> pd.DataFrame:
    """Give each row's top drivers of churn risk, in plain words.

    Parameters
    ----------
    explanation : Explanation
        SHAP values and feature values of the rows.
    top_n : int, default 3
        Reasons per customer.
    min_contribution : float, default 0
        Only features pushing the log-odds up by more than this count as reasons.

    Notes
    -----
    Windows of one signal (``exports_7d``, ``exports_30d``, ``exports_90d``) give one reason, the
    largest, so three reasons name three different things. Reasons are worded by :func:`reason_text`,
    so any feature name reads as words.

    Returns
    -------
    DataFrame
        One row per explained row: ``customer_id, cutoff``, then for i = 1..top_n ``reason_i``
        (plain words, empty when fewer drivers), ``driver_i`` (feature name) and ``shap_i``
        (contribution, log-odds), and ``reasons`` ("; "-joined).

    Examples
    --------
    A customer whose largest positive contribution is recency gets "no session for 24 days" first.
    """
    v = explanation.values.to_numpy(dtype=float)
    names = list(explanation.values.columns)
    signals = [signal_of(n) for n in names]
    data = explanation.data
    order = np.argsort(-v, axis=1, kind="stable")
    picked = []  # per row: up to top_n feature positions, one per signal, largest contribution first
    for r in range(len(v)):
        seen: set[str] = set()
        row: list[int] = []
        for j in order[r]:
            if v[r, j] <= min_contribution or len(row) == top_n:
                break
            if signals[j] not in seen:
                seen.add(signals[j])
                row.append(j)
        picked.append(row)
    out = explanation.keys.copy().reset_index(drop=True)
    for i in range(top_n):
        cols = [row[i] if i < len(row) else -1 for row in picked]
        out[f"reason_{i + 1}"] = [
            reason_text(names[j], data.iat[r, data.columns.get_loc(names[j])]) if j >= 0 else ""
            for r, j in enumerate(cols)
        ]
        out[f"driver_{i + 1}"] = [names[j] if j >= 0 else "" for j in cols]
        out[f"shap_{i + 1}"] = [v[r, j] if j >= 0 else np.nan for r, j in enumerate(cols)]
    out["reasons"] = ["; ".join(w for w in ws if w) for ws in zip(*(out[f"reason_{i + 1}"] for i in range(top_n)))]
    return out


#: Features that observe each churn mechanism of the synthetic world (``churnlab.data.synthetic.knobs.MECHANISMS``,
#: hazard covariates in ``world.covariates``): how an analyst would see the mechanism in the tables. ``decision``
#: is not a mechanism but the state every churn passes through once a customer has decided to leave
#: (data exports and billing tickets; its collapse of sessions and opens is counted under disengagement, whose
#: features measure usage against the customer's own past). Each feature observes one mechanism, except those
#: shared by mechanisms that move the same latent quantity (ticket CSAT: service and satisfaction; promo redemption:
#: price sensitivity behind price and competitor; usage vs segment: engagement and sharing). ``baseline``
#: (frailty) and ``moved`` have no feature of their own: they are noise by design.
MECHANISM_FEATURES: dict[str, tuple[str, ...]] = {
    "decision": ("exports_7d", "exports_30d", "exports_90d", "days_since_last_export", "tickets_financial_30d"),
    "disengagement": ("sessions_7d", "sessions_30d", "sessions_90d", "session_trend_30d", "session_ratio_7d_90d",
                      "sessions_30d_vs_segment", "email_open_rate_14d", "email_open_rate_30d", "email_open_rate_90d",
                      "email_open_rate_drop", "push_open_rate_30d"),
    "recency": ("days_since_last_session", "recency_vs_rhythm"),
    "onboarding": ("activated_14d",),
    "component_stop": ("components_stopped", "components_adopted"),
    "price": ("monthly_fee", "plan", "promo_redeem_rate_90d"),
    "late_payment": ("late_payments_90d", "overdue_invoices", "days_overdue"),
    "service": ("bad_tickets_90d", "bad_tickets_30d", "tickets_no_fcr_90d", "ticket_csat_mean", "unresolved_tickets"),
    "dissatisfaction": ("last_nps", "last_csat", "ticket_csat_mean", "tickets_emotional_90d", "manager_calls_30d"),
    "ui_change": ("unsubscribed", "unsubscribed_30d"),
    "competitor": ("promo_redeem_rate_90d",),
    "account_sharing": ("sessions_per_active_day_30d", "sessions_30d_vs_segment"),
    "baseline": (),
    "moved": (),
}


def drivers_found(importance: pd.DataFrame, mechanisms: Sequence[str], *, top_k: int = 10,
                  mapping: Mapping[str, Sequence[str]] = MECHANISM_FEATURES) -> pd.DataFrame:
    """Say which true churn mechanisms show among the model's most important features.

    Parameters
    ----------
    importance : DataFrame
        From :func:`global_importance` (``feature`` ranked, most important first).
    mechanisms : sequence of str
        The mechanisms to look for (e.g. the world's main true drivers).
    top_k : int, default 10
        How many of the top features count.
    mapping : dict of str to sequence of str, default :data:`MECHANISM_FEATURES`
        Features that observe each mechanism.

    Returns
    -------
    DataFrame
        One row per mechanism: ``mechanism, found, best_rank, best_feature`` (its highest-ranked feature and
        that feature's 1-based rank among all features; NaN and empty when none was used) and ``features``
        (its features in the top ``top_k``, by rank).

    Raises
    ------
    ModelError
        A mechanism missing from ``mapping``, or ``top_k`` below 1.

    Examples
    --------
    >>> imp = pd.DataFrame({"feature": ["exports_7d", "segment", "days_since_last_session"]})
    >>> drivers_found(imp, ["recency", "price"], top_k=3)[["mechanism", "found", "best_rank"]].values.tolist()
    [['recency', True, 3.0], ['price', False, nan]]
    """
    if top_k < 1:
        raise ModelError(f"drivers_found: top_k must be at least 1, got {top_k}")
    ranked = importance["feature"].astype(str).tolist()
    rank = {f: i + 1 for i, f in enumerate(ranked)}
    rows = []
    for mech in mechanisms:
        if mech not in mapping:
            raise ModelError(f"drivers_found: no features are mapped to mechanism {mech!r}; known: {sorted(mapping)}")
        ranks = sorted(rank[f] for f in mapping[mech] if f in rank)
        top = [ranked[r - 1] for r in ranks if r <= top_k]
        rows.append({"mechanism": mech, "found": bool(top), "best_rank": float(ranks[0]) if ranks else np.nan,
                     "best_feature": ranked[ranks[0] - 1] if ranks else "", "features": ", ".join(top)})
    return pd.DataFrame(rows, columns=["mechanism", "found", "best_rank", "best_feature", "features"])


def signal_of(feature: str) -> str:
    """Name the signal a feature measures, its window dropped: one reason per signal.

    Examples
    --------
    >>> signal_of("exports_30d"), signal_of("days_since_last_session")
    ('exports', 'days_since_last_session')
    """
    return re.sub(r"_\d+d$", "", feature)


def risk_list(keys: pd.DataFrame, score: np.ndarray, probability: np.ndarray, reasons: pd.DataFrame | None = None, *,
              threshold: float | None = None, top_k_pct: float | None = None) -> pd.DataFrame:
    """List the customers to act on: highest risk first, with score, calibrated probability and reasons.

    Parameters
    ----------
    keys : DataFrame
        ``customer_id, cutoff`` of each scored row.
    score : array of float
        The model's raw probability.
    probability : array of float
        Calibrated churn probability.
    reasons : DataFrame, optional
        From :func:`reason_codes`, same rows as ``keys``: its ``reason_i`` (words), ``driver_i`` (feature
        names, to count customers by driver) and ``reasons`` columns are carried.
    threshold : float, optional
        Keep rows with ``probability >= threshold`` (e.g. the profit-curve operating point).
    top_k_pct : float, optional
        Else keep the top k% by score; neither keeps everyone.

    Returns
    -------
    DataFrame
        ``rank, customer_id, cutoff, score, probability`` and, with reasons, ``reason_1..n, reasons,
        driver_1..n``.
    """
    if len(keys) != len(score) or len(score) != len(probability):
        raise ModelError(f"risk_list: {len(keys)} keys, {len(score)} scores, {len(probability)} probabilities")
    out = keys[[C.CUSTOMER_ID, C.CUTOFF]].reset_index(drop=True).copy()
    out["score"] = np.asarray(score, dtype=float)
    out["probability"] = np.asarray(probability, dtype=float)
    if reasons is not None:
        cols = [c for c in reasons.columns if c.startswith("reason")] + [
            c for c in reasons.columns if c.startswith("driver_")]
        out = pd.concat([out, reasons[cols].reset_index(drop=True)], axis=1)
    out = out.sort_values(["score", C.CUSTOMER_ID], ascending=[False, True], kind="stable").reset_index(drop=True)
    if threshold is not None:
        out = out[out["probability"] >= threshold]
    elif top_k_pct is not None:
        out = out.head(int(np.ceil(len(out) * top_k_pct / 100.0)))
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out.reset_index(drop=True)
