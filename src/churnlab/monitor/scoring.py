"""Score every active customer with the registered model and write the CRM list.

:func:`calibration_at` learns the map from the model's scores to probabilities on the latest window whose
labels have matured (known at scoring time); :func:`score_customers` builds features at the dataset's
``as_of``, scores everyone active then and returns the CRM list: customer, calibrated probability,
value at risk, the top three reasons in plain words, the rule zone and the programme-holdout flag;
:func:`action_list` keeps the customers to act on (never a holdout customer) and :func:`write_lists`
writes both as Parquet and CSV to the run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from churnlab import config as C
from churnlab.errors import AnalysisError, ChurnlabError, ModelError
from churnlab.explain import explain, reason_codes
from churnlab.features import build_features
from churnlab.labels import make_label_times
from churnlab.modeling.calibration import Calibrated, calibrate
from churnlab.monitor.holdout import DEFAULT_PROGRAM_ID, DEFAULT_PROGRAM_SHARE, holdout_flags
from churnlab.patterns.rules import RuleSet, assign_zones, evaluate_rules, load_rules
from churnlab.patterns.value import DEFAULT_VALUE_HORIZON_MONTHS, customer_values
from churnlab.schema import Dataset

__all__ = ["CRM_COLUMNS", "DEFAULT_CALIBRATION", "model_frame", "calibration_at", "score_customers",
           "action_list", "write_lists"]

#: Columns of the CRM list, in order.
CRM_COLUMNS = ("rank", C.CUSTOMER_ID, C.CUTOFF, C.SEGMENT, "score", "probability", "monthly_revenue", "value",
               "value_at_risk", "reason_1", "reason_2", "reason_3", "reasons", "zone", "rules_fired", "holdout")
#: Calibration of the weekly scores: Platt scaling on one matured window (OPINIONS.md, "Calibration at scoring").
DEFAULT_CALIBRATION = "sigmoid"


def model_frame(features: pd.DataFrame, model) -> pd.DataFrame:
    """Return the model's input columns of a feature frame, in training order.

    Raises
    ------
    ModelError
        When a column the model was trained on is missing (names them).
    """
    names = list(getattr(model, "feature_names_in_", []))
    if not names:
        raise ModelError(f"scoring: {type(model).__name__} records no feature names; expected a fitted churnlab model")
    missing = [c for c in names if c not in features.columns]
    if missing:
        raise ModelError(f"scoring: features {missing} the model was trained on are missing; expected the columns "
                         "of build_features on the same kind of data")
    return features[names]


def calibration_at(model, dataset: Dataset, as_of=None, *, horizon_days: int = 30,
                   method: str = DEFAULT_CALIBRATION) -> Calibrated:
    """Calibrate the model on the latest window whose labels have matured by ``as_of``.

    Parameters
    ----------
    model : fitted classifier
        The registered model (``predict_proba``, ``feature_names_in_``).
    dataset : Dataset
        Its data.
    as_of : timestamp, optional
        Scoring time; default ``dataset.as_of``. The window is cutoff ``as_of - horizon_days``.
    horizon_days : int, default 30
        The model's label window.
    method : {"sigmoid", "isotonic"}, default "sigmoid"
        Platt scaling (two parameters: steady on one window of a few dozen churners) or isotonic.

    Returns
    -------
    Calibrated

    Raises
    ------
    AnalysisError
        When that window has no customer or a single class.

    Notes
    -----
    Only labels known at ``as_of`` are used, so the probabilities of the week are honest forecasts; a model
    trained on that very window would be calibrated on its own training rows (overconfident).
    """
    as_of = dataset.as_of if as_of is None else pd.Timestamp(as_of)
    cutoff = as_of - pd.Timedelta(days=horizon_days)
    labels = make_label_times(dataset, [cutoff], horizon_days=horizon_days)
    y = labels.table[C.LABEL].astype(int).to_numpy()
    if y.min() == y.max():
        raise AnalysisError(f"calibration_at: the matured window at {cutoff.date()} has a single class "
                            f"({len(y)} customers); expected churners and stayers")
    features = build_features(dataset, labels)
    try:
        return calibrate(model, model_frame(features, model), y, method=method)
    except ModelError as exc:
        raise AnalysisError(f"calibration_at {cutoff.date()}: {exc}") from None


def _values(dataset: Dataset, as_of: pd.Timestamp, horizon_months: float) -> pd.DataFrame | None:
    try:
        return customer_values(dataset, as_of, horizon_months=horizon_months)
    except (ChurnlabError, KeyError):
        return None


def score_customers(model, dataset: Dataset, *, as_of=None, calibrator: Calibrated | None = None,
                    features: pd.DataFrame | None = None, rules: RuleSet | None = None, reasons: bool = True,
                    value_horizon_months: float = DEFAULT_VALUE_HORIZON_MONTHS,
                    program_id: str = DEFAULT_PROGRAM_ID, holdout_share: float = DEFAULT_PROGRAM_SHARE,
                    holdout_salt: str = "") -> pd.DataFrame:
    """Score every customer active at ``as_of``: the CRM list, riskiest first.

    Parameters
    ----------
    model : ChurnXGBClassifier
        The registered model (:func:`churnlab.modeling.registry.load_model`).
    dataset : Dataset
        Data up to ``as_of``.
    as_of : timestamp, optional
        Default ``dataset.as_of``.
    calibrator : Calibrated, optional
        Map to probabilities (:func:`calibration_at`); without it ``probability`` is the raw score.
    features : DataFrame, optional
        Features at ``as_of`` already built (``customer_id, cutoff`` + features); default built here.
    rules : RuleSet, optional
        Risk rules for the zone; default the packaged ones. Rules whose features the data lacks are dropped.
    reasons : bool, default True
        Add the top three reasons (SHAP, plain words).
    value_horizon_months : float, default 12
        Value = expected revenue over this horizon (:func:`churnlab.patterns.value.customer_values`).
    program_id, holdout_share, holdout_salt
        The persistent programme holdout (:func:`churnlab.monitor.holdout.holdout_flags`).

    Returns
    -------
    DataFrame
        One row per active customer with :data:`CRM_COLUMNS`: ``score`` (raw), ``probability``
        (calibrated), ``value`` (NaN without revenue data), ``value_at_risk = probability x value``,
        ``reason_1..3``, ``zone`` (``red``/``amber``/``none``), ``holdout`` (bool); sorted by probability.

    Raises
    ------
    AnalysisError
        When no customer is active at ``as_of``.
    ModelError
        When a model feature is missing.
    """
    as_of = dataset.as_of if as_of is None else pd.Timestamp(as_of)
    if features is None:
        features = build_features(dataset, [as_of])
    if features.empty:
        raise AnalysisError(f"score_customers: no customer of {dataset.name!r} is active at {as_of.date()}")
    features = features.reset_index(drop=True)
    X = model_frame(features, model)
    keys = features[[C.CUSTOMER_ID, C.CUTOFF]].copy()
    out = keys.copy()
    out[C.SEGMENT] = features[C.SEGMENT].astype("string") if C.SEGMENT in features else pd.NA
    out["score"] = model.predict_proba(X)[:, 1]
    out["probability"] = calibrator.predict_proba(X)[:, 1] if calibrator is not None else out["score"]
    values = _values(dataset, as_of, value_horizon_months)
    ids = out[C.CUSTOMER_ID].astype(str)
    if values is not None:
        v = values.assign(**{C.CUSTOMER_ID: values[C.CUSTOMER_ID].astype(str)}).drop_duplicates(
            C.CUSTOMER_ID).set_index(C.CUSTOMER_ID)
        out["monthly_revenue"] = ids.map(v["monthly_revenue"]).astype("float64").to_numpy()
        out["value"] = ids.map(v["value"]).astype("float64").to_numpy()
    else:
        out["monthly_revenue"] = np.nan
        out["value"] = np.nan
    out["value_at_risk"] = out["probability"] * out["value"]
    if reasons and hasattr(model, "contributions"):
        codes = reason_codes(explain(model, X, keys), top_n=3)
        for col in ("reason_1", "reason_2", "reason_3", "reasons"):
            out[col] = codes[col].to_numpy()
    else:
        for col in ("reason_1", "reason_2", "reason_3", "reasons"):
            out[col] = ""
    ruleset = rules if rules is not None else load_rules()
    usable = [r for r in ruleset if all(n in features.columns for n in RuleSet((r,)).features)]
    if usable:
        zones = assign_zones(evaluate_rules(usable, features), usable)
        out["zone"], out["rules_fired"] = zones["zone"].to_numpy(), zones["rules_fired"].to_numpy()
    else:
        out["zone"], out["rules_fired"] = "none", ""
    out["holdout"] = holdout_flags(ids, program_id=program_id, share=holdout_share, salt=holdout_salt)
    out = out.sort_values(["probability", C.CUSTOMER_ID], ascending=[False, True], kind="stable").reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    out.attrs.update({"as_of": as_of.isoformat(), "calibrated": calibrator is not None,
                      "rules": [r.name for r in usable],
                      "value_source": None if values is None else values.attrs.get("source", "customer_values")})
    return out[list(CRM_COLUMNS)]


def action_list(crm: pd.DataFrame, *, top_share: float | None = 0.1, threshold: float | None = None,
                by: str = "value_at_risk") -> pd.DataFrame:
    """Keep the customers to act on from a CRM list; holdout customers never appear.

    Parameters
    ----------
    crm : DataFrame
        From :func:`score_customers`.
    top_share : float or None, default 0.1
        Keep the top share of the scored customers (holdout included in the count, so the list size does
        not depend on who is held out) ranked by ``by``.
    threshold : float, optional
        Instead keep ``probability >= threshold``.
    by : str, default "value_at_risk"
        Ranking column; ``probability`` when values are missing.

    Returns
    -------
    DataFrame
        The kept rows without holdout customers, ranked by ``by``; ``attrs["held_out"]`` counts the holdout
        customers the cut would have kept.

    Raises
    ------
    AnalysisError
        When neither or both of ``top_share`` and ``threshold`` are given, or ``top_share`` is outside (0, 1].
    """
    if (top_share is None) == (threshold is None):
        raise AnalysisError("action_list: give exactly one of top_share and threshold")
    if top_share is not None and not 0 < float(top_share) <= 1:
        raise AnalysisError(f"action_list: top_share must lie in (0, 1], got {top_share!r}")
    key = by if by in crm.columns and crm[by].notna().any() else "probability"
    ranked = crm.sort_values([key, C.CUSTOMER_ID], ascending=[False, True], kind="stable", na_position="last")
    if threshold is not None:
        kept = ranked[ranked["probability"] >= float(threshold)]
    else:
        kept = ranked.head(int(np.ceil(len(ranked) * float(top_share))))
    held = kept["holdout"].astype(bool)
    out = kept[~held].reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    out.attrs["held_out"] = int(held.sum())
    out.attrs["ranked_by"] = key
    return out


def write_lists(frames: dict[str, pd.DataFrame], folder: str | Path | None = None) -> list[Path]:
    """Write each list as ``<name>.parquet`` and ``<name>.csv`` and log both to the run.

    Parameters
    ----------
    frames : dict of str to DataFrame
        File stem -> list (e.g. ``{"crm_list": crm, "action_list": actions}``).
    folder : str or Path, optional
        Where to write; default :func:`churnlab.notebook.output_path` (the run folder under ``churnlab run``).

    Returns
    -------
    list of Path
        The files written.
    """
    from churnlab import tracking
    from churnlab.notebook import output_path

    paths = []
    for stem, given in frames.items():
        frame = given.copy()
        frame.attrs = {}  # Parquet stores attrs as JSON metadata; lists carry their settings in the run instead
        for ext in ("parquet", "csv"):
            target = Path(folder) / f"{stem}.{ext}" if folder is not None else output_path(f"{stem}.{ext}")
            target.parent.mkdir(parents=True, exist_ok=True)
            if ext == "parquet":
                frame.to_parquet(target, index=False)
            else:
                frame.to_csv(target, index=False)
            tracking.log_artifact(target, "lists")
            paths.append(target)
    return paths
