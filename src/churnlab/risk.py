"""The model's risk list next to the rule zones: who is on both, and which list catches more churners.

Notebook 01 puts customers in red or amber zones with a few readable rules
(:func:`churnlab.patterns.rules.assign_zones`); notebook 02 ranks every customer by the model's churn
probability (:func:`churnlab.explain.risk_list`). The two lists answer different needs (a rule says why in one
line and fires the day it becomes true; the model ranks everyone with all signals at once), so a reader needs
their overlap and, on a window whose outcome is known, what each catches at the same size:

- :func:`zone_overlap` counts the customers of each zone and how many of them the risk list holds;
- :func:`zones_vs_model` compares each zone list with the model's top customers of the same size.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnlab import config as C
from churnlab.errors import ModelError
from churnlab.schema import require_columns

__all__ = ["ZONE_LISTS", "zone_overlap", "zones_vs_model"]

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
