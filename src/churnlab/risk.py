"""The model's risk list next to the rule zones: who is on both, and which list catches more churners.

Notebook 01 puts customers in red or amber zones with a few readable rules
(:func:`churnlab.patterns.rules.assign_zones`); notebook 02 ranks every customer by the model's churn
probability (:func:`churnlab.explain.risk_list`). The two lists answer different needs (a rule says why in one
line and fires the day it becomes true; the model ranks everyone with all signals at once), so a reader needs
their overlap and, on a window whose outcome is known, what each catches at the same size:

- :func:`zone_overlap` counts the customers of each zone and how many of them the risk list holds;
- :func:`zones_vs_model` compares each zone list with the model's top customers of the same size;
- :func:`attach_reasons` gives the customers on a list their top reasons, SHAP computed in batches for them only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnlab import config as C
from churnlab.errors import ModelError
from churnlab.schema import require_columns

__all__ = ["ZONE_LISTS", "zone_overlap", "zones_vs_model", "attach_reasons"]

#: The lists a rule set gives: the red zone, and red with amber (every customer any rule flags).
ZONE_LISTS: dict[str, tuple[str, ...]] = {"red": ("red",), "red+amber": ("red", "amber")}


def zone_overlap(risk: pd.DataFrame, zones: pd.DataFrame) -> pd.DataFrame:
    """Count the customers of each rule zone and how many of them are on the model's risk list.

    Parameters
    ----------
    risk : DataFrame
        The model's risk list: ``customer_id`` (one row per customer on the list).
    zones : DataFrame
        :func:`churnlab.patterns.rules.assign_zones` on the same customers at the same instant:
        ``customer_id, zone`` (``red``, ``amber`` or ``none``).

    Returns
    -------
    DataFrame
        One row per zone (``red, amber, none``, then ``not scored`` when the list holds customers without a
        zone): ``zone, customers`` (in the zone), ``on_risk_list`` (of them on the list), ``share_of_zone``
        and ``share_of_list`` (``on_risk_list`` over the zone's and the list's size).

    Raises
    ------
    SchemaError
        When a column is missing.

    Examples
    --------
    >>> risk = pd.DataFrame({"customer_id": ["a", "b", "c"]})
    >>> zones = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "zone": ["red", "none", "none", "amber"]})
    >>> zone_overlap(risk, zones)[["zone", "customers", "on_risk_list"]].values.tolist()
    [['red', 1, 1], ['amber', 1, 0], ['none', 2, 2]]
    """
    require_columns(risk, [C.CUSTOMER_ID], table="risk list")
    require_columns(zones, [C.CUSTOMER_ID, "zone"], table="zones")
    zone_of = zones.assign(**{C.CUSTOMER_ID: zones[C.CUSTOMER_ID].astype(str)}).drop_duplicates(
        C.CUSTOMER_ID).set_index(C.CUSTOMER_ID)["zone"].astype(str)
    listed = pd.Index(risk[C.CUSTOMER_ID].astype(str).unique())
    listed_zone = listed.map(zone_of).fillna("not scored")
    rows = []
    for zone in ["red", "amber", "none", "not scored"]:
        in_zone = int((zone_of == zone).sum())
        on_list = int((listed_zone == zone).sum())
        if zone == "not scored" and on_list == 0:
            continue
        rows.append({"zone": zone, "customers": in_zone, "on_risk_list": on_list,
                     "share_of_zone": on_list / in_zone if in_zone else np.nan,
                     "share_of_list": on_list / len(listed) if len(listed) else np.nan})
    return pd.DataFrame(rows, columns=["zone", "customers", "on_risk_list", "share_of_zone", "share_of_list"])


def zones_vs_model(zones: pd.DataFrame, labels: pd.DataFrame, score: np.ndarray) -> pd.DataFrame:
    """Compare each rule-zone list with the model's top customers of the same size, on known outcomes.

    Parameters
    ----------
    zones : DataFrame
        :func:`churnlab.patterns.rules.assign_zones` on labelled rows: ``zone``, one row per row of ``labels``
        in the same order.
    labels : DataFrame
        ``label`` (1 = churned in the window) of each row.
    score : array of float
        The model's score of each row (higher = riskier).

    Returns
    -------
    DataFrame
        One row per list of :data:`ZONE_LISTS`: ``list, customers`` (its size), ``share`` (of all rows),
        ``precision`` (churn rate in the list), ``recall`` (share of all churners it holds) and the same for the
        model's ``customers`` highest scores: ``model_precision, model_recall`` (ties broken by row order).

    Raises
    ------
    ModelError
        When the inputs differ in length or no row churned.
    SchemaError
        When a column is missing.

    Notes
    -----
    At equal size the list with the higher precision also has the higher recall (both divide the same count of
    churners caught by a shared size or a shared total), so one comparison says which list catches more.

    Examples
    --------
    >>> zones = pd.DataFrame({"zone": ["red", "none", "amber", "none"]})
    >>> labels = pd.DataFrame({"label": [0, 1, 1, 0]})
    >>> out = zones_vs_model(zones, labels, np.array([0.1, 0.9, 0.8, 0.2]))
    >>> out[["list", "customers", "recall", "model_recall"]].values.tolist()
    [['red', 1, 0.0, 0.5], ['red+amber', 2, 0.5, 1.0]]
    """
    require_columns(zones, ["zone"], table="zones")
    require_columns(labels, [C.LABEL], table="labels")
    score = np.asarray(score, dtype=float)
    if not len(zones) == len(labels) == len(score):
        raise ModelError(f"zones_vs_model: {len(zones)} zone rows, {len(labels)} labels and {len(score)} scores; "
                         "expected one of each per row")
    y = labels[C.LABEL].to_numpy(dtype=float)
    churners = y.sum()
    if churners == 0:
        raise ModelError("zones_vs_model: no labelled row churned; precision and recall need churners")
    order = np.argsort(-score, kind="stable")
    rows = []
    for name, members in ZONE_LISTS.items():
        listed = zones["zone"].astype(str).isin(members).to_numpy()
        n = int(listed.sum())
        top = y[order[:n]]
        rows.append({"list": name, "customers": n, "share": n / len(y),
                     "precision": y[listed].mean() if n else np.nan, "recall": y[listed].sum() / churners,
                     "model_precision": top.mean() if n else np.nan, "model_recall": top.sum() / churners})
    return pd.DataFrame(rows)


def attach_reasons(risk: pd.DataFrame, model, X: pd.DataFrame, keys: pd.DataFrame, *,
                   explained: pd.DataFrame | None = None, top_n: int = 3) -> pd.DataFrame:
    """Give the rows of a risk list their top reasons, explaining (SHAP, in batches) only the rows that need them.

    Scoring every customer is cheap; exact TreeSHAP costs about 1 ms per row, so at a million customers only the
    listed ones are explained (:func:`churnlab.explain.explain` batches them, memory stays bounded).

    Parameters
    ----------
    risk : DataFrame
        :func:`churnlab.explain.risk_list` without reasons: ``customer_id, cutoff, ...``.
    model : fitted churn classifier
        What :func:`churnlab.explain.explain` explains.
    X : DataFrame
        Features of the scored rows, aligned with ``keys``.
    keys : DataFrame
        ``customer_id, cutoff`` of each row of ``X``.
    explained : DataFrame, optional
        ``customer_id, cutoff`` of the rows to explain (default every row of ``risk``); the other rows of
        ``risk`` get empty reasons.
    top_n : int, default 3
        Reasons per row (:func:`churnlab.explain.reason_codes`).

    Returns
    -------
    DataFrame
        ``risk`` in its order with ``reason_1..n, reasons, driver_1..n`` (empty strings where not explained).

    Raises
    ------
    ModelError
        When ``X`` and ``keys`` differ in length.
    SchemaError
        When ``risk``, ``keys`` or ``explained`` lack ``customer_id`` or ``cutoff``.
    """
    from churnlab.explain import explain, reason_codes

    for name, t in (("risk", risk), ("keys", keys), ("explained", explained)):
        if t is not None:
            require_columns(t, [C.CUSTOMER_ID, C.CUTOFF], table=name)
    if len(X) != len(keys):
        raise ModelError(f"attach_reasons: {len(X)} feature rows but {len(keys)} keys")
    wanted = risk if explained is None else explained
    pairs = pd.MultiIndex.from_frame(wanted[[C.CUSTOMER_ID, C.CUTOFF]].astype({C.CUSTOMER_ID: str}))
    mine = pd.MultiIndex.from_frame(keys[[C.CUSTOMER_ID, C.CUTOFF]].astype({C.CUSTOMER_ID: str})).isin(pairs)
    cols = [f"reason_{i}" for i in range(1, top_n + 1)] + ["reasons"] + [f"driver_{i}" for i in range(1, top_n + 1)]
    sub_keys = keys.loc[mine, [C.CUSTOMER_ID, C.CUTOFF]].astype({C.CUSTOMER_ID: str}).reset_index(drop=True)
    if len(sub_keys):
        codes = reason_codes(explain(model, X[mine].reset_index(drop=True), sub_keys), top_n=top_n)
        codes = pd.concat([sub_keys, codes[cols].reset_index(drop=True)], axis=1)
    else:
        codes = sub_keys.assign(**{c: pd.Series(dtype=object) for c in cols})
    out = risk.drop(columns=[c for c in cols if c in risk.columns]).assign(
        **{C.CUSTOMER_ID: risk[C.CUSTOMER_ID].astype(str)})
    out = out.merge(codes, on=[C.CUSTOMER_ID, C.CUTOFF], how="left", validate="many_to_one")
    out[cols] = out[cols].fillna("")
    return out
