"""The early-warning signal table: each signal's prevalence and what followed, as of a cutoff.

A signal is a named threshold on a feature column of :func:`churnlab.features.build_features`,
written in the risk-rule grammar (:func:`churnlab.patterns.rules.evaluate_expression`), so the signal
table, the risk rules and the model read one definition of each signal.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from churnlab import config as C
from churnlab.patterns.exposure import compare_exposed
from churnlab.patterns.rules import evaluate_expression, expression_names
from churnlab.schema import require_columns

__all__ = ["DEFAULT_SIGNALS", "signal_flags", "signal_table"]

#: Signal name -> (expression on feature columns, words). OPINIONS.md, "Risk rule thresholds".
DEFAULT_SIGNALS: dict[str, tuple[str, str]] = {
    "no_session_14d": ("days_since_last_session >= 14", "no session for 14+ days"),
    "no_session_21d": ("days_since_last_session >= 21", "no session for 21+ days"),
    "sessions_falling": ("session_trend_30d < 0", "fewer sessions than the previous 30 days"),
    "components_stopped": ("components_stopped >= 1", "stopped using a product component"),
    "exported_data": ("exports_30d >= 1", "exported data in the last 30 days"),
    "email_opens_falling": ("email_open_rate_drop > 0", "opens fewer emails than before"),
    "email_opens_halved": ("email_open_rate_30d <= 0.5 * (email_open_rate_30d + email_open_rate_drop) "
                           "and email_open_rate_drop > 0", "email opens fell by half"),
    "ignores_promotions": ("promo_redeem_rate_90d == 0", "redeemed none of the promotions received"),
    "unsubscribed": ("unsubscribed >= 1", "unsubscribed from messages"),
    "unresolved_ticket": ("unresolved_tickets >= 1", "an unresolved ticket"),
    "complaint_90d": ("tickets_emotional_90d >= 1", "a complaint in the last 90 days"),
    "low_ticket_csat": ("ticket_csat_mean <= 2", "rated support 2/5 or lower"),
    "late_payment": ("late_payments_90d >= 1", "a late payment in the last 90 days"),
    "no_contact_60d": ("days_since_last_contact >= 60", "no contact for 60+ days"),
    "low_nps": ("last_nps <= 6", "last NPS score 6 or lower (detractor)"),
}


def signal_flags(features: pd.DataFrame, signals: Mapping[str, tuple[str, str] | str] | None = None) -> pd.DataFrame:
    """Evaluate each signal whose feature columns exist; a missing value never fires.

    Returns
    -------
    DataFrame
        ``customer_id, cutoff`` and one boolean column per available signal;
        ``attrs["skipped"]`` maps each left-out signal to the feature it lacks.
    """
    require_columns(features, [C.CUSTOMER_ID, C.CUTOFF], table="features")
    signals = DEFAULT_SIGNALS if signals is None else signals
    out = features[[C.CUSTOMER_ID, C.CUTOFF]].copy()
    skipped = {}
    for name, spec in signals.items():
        expr = spec[0] if isinstance(spec, tuple) else spec
        lacking = [n for n in expression_names(expr, rule=name) if n not in features.columns]
        if lacking:
            skipped[name] = lacking[0]
            continue
        out[name] = evaluate_expression(expr, features, rule=name)
    out.attrs["skipped"] = skipped
    return out


def signal_table(features: pd.DataFrame, labels: pd.DataFrame,
                 signals: Mapping[str, tuple[str, str] | str] | None = None, alpha: float = 0.05) -> pd.DataFrame:
    """Tabulate each early-warning signal against churn in the horizon after its cutoff.

    Parameters
    ----------
    features : DataFrame
        ``customer_id, cutoff`` and feature columns (one or several cutoffs).
    labels : DataFrame
        ``customer_id, cutoff, label`` (``make_label_times(...).table``).
    signals : mapping, optional
        Name -> expression or (expression, words); default :data:`DEFAULT_SIGNALS`.
    alpha : float
        Interval level.

    Returns
    -------
    DataFrame
        One row per available signal, highest lift first: ``signal, when, words`` then the columns
        of :func:`churnlab.patterns.exposure.compare_exposed` (prevalence, churn when present and
        absent with Wilson bounds, difference with Newcombe bounds, p-value, precision, recall,
        lift with bounds). ``attrs["skipped"]`` lists signals without their feature.
    """
    signals = DEFAULT_SIGNALS if signals is None else signals
    flags = signal_flags(features, signals)
    names = [c for c in flags.columns if c not in (C.CUSTOMER_ID, C.CUTOFF)]
    keys = [C.CUSTOMER_ID, C.CUTOFF]
    require_columns(labels, keys + [C.LABEL], table="labels")
    lab = labels[keys + [C.LABEL]].assign(**{C.CUSTOMER_ID: labels[C.CUSTOMER_ID].astype(str),
                                             C.LABEL: labels[C.LABEL].astype(int)})
    frame = flags.assign(**{C.CUSTOMER_ID: flags[C.CUSTOMER_ID].astype(str)}).merge(lab, on=keys, how="inner")
    table = compare_exposed(frame, names, alpha=alpha).rename(columns={"exposure": "signal"})

    def spec(n: str) -> tuple[str, str]:
        s = signals[n]
        return (s, n.replace("_", " ")) if isinstance(s, str) else s

    table.insert(1, "when", [spec(n)[0] for n in table["signal"]])
    table.insert(2, "words", [spec(n)[1] for n in table["signal"]])
    table = table.sort_values("lift", ascending=False, na_position="last").reset_index(drop=True)
    table.attrs["skipped"] = flags.attrs["skipped"]
    return table
