"""Champion and challenger: retrain, compare on the latest matured window, move the alias only when better.

:func:`train_model` fits a challenger on the monthly cutoffs whose labels matured before the latest
matured window, which stays out of training; :func:`challenge` scores champion and challenger on that
window and promotes the challenger only when its ROC-AUC beats the champion's by ``margin``
(OPINIONS.md, "Champion and challenger"); :func:`register_challenger` logs the challenger, its figures and
the decision to the run and moves the ``champion`` alias when the decision says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.metrics import brier_score_loss, roc_auc_score

from churnlab import config as C
from churnlab.errors import ModelError
from churnlab.features import build_features
from churnlab.labels import make_label_times, monthly_cutoffs
from churnlab.modeling.calibration import calibrate
from churnlab.modeling.estimators import ChurnXGBClassifier
from churnlab.modeling.selection import training_data
from churnlab.monitor.scoring import DEFAULT_CALIBRATION, model_frame
from churnlab.schema import Dataset

__all__ = ["DEFAULT_MARGIN", "TrainedModel", "ChallengeResult", "Champion", "train_model", "challenge",
           "register_challenger", "champion_or_train"]

#: ROC-AUC the challenger must gain over the champion to take its place (OPINIONS.md, "Champion and challenger").
DEFAULT_MARGIN = 0.01


@dataclass(frozen=True)
class TrainedModel:
    """A model trained by the weekly job, its training figures and the cutoffs it learnt from."""

    model: ChurnXGBClassifier
    figures: dict[str, float]
    cutoffs: tuple[pd.Timestamp, ...]
    example: pd.DataFrame = field(repr=False)

    def __repr__(self) -> str:
        return (f"TrainedModel({len(self.cutoffs)} cutoffs {self.cutoffs[0].date()}..{self.cutoffs[-1].date()}, "
                f"held-out ROC-AUC {self.figures.get('training_roc_auc', float('nan')):.3f})")


def _window(dataset: Dataset, cutoff: pd.Timestamp, horizon_days: int):
    labels = make_label_times(dataset, [cutoff], horizon_days=horizon_days)
    return build_features(dataset, labels), labels.table[C.LABEL].astype(int).to_numpy()


def train_model(dataset: Dataset, as_of=None, *, horizon_days: int = 30, max_cutoffs: int = 12, n_jobs: int = 1,
                random_state: int = 0, tuning_folds: int | None = None) -> TrainedModel:
    """Train a churn model on the matured monthly cutoffs before the latest matured window.

    Parameters
    ----------
    dataset : Dataset
        Event data with subscriptions.
    as_of : timestamp, optional
        Now; default ``dataset.as_of``.
    horizon_days : int, default 30
        Label window.
    max_cutoffs : int, default 12
        The most recent monthly cutoffs kept (a rolling year).
    n_jobs : int, default 1
        XGBoost threads (FIELD_NOTES: one is fastest on a shared machine).
    random_state : int, default 0
        Seed of the model.
    tuning_folds : int or None, default None
        Passed to :class:`~churnlab.modeling.estimators.ChurnXGBClassifier` (None: one early-stopping split,
        3x faster than notebook 02's three folds).

    Returns
    -------
    TrainedModel
        ``figures``: ``training_roc_auc`` and ``training_brier`` (Platt-calibrated) on the held-out window
        ``as_of - horizon_days``, ``training_rows``, ``training_cutoffs``.

    Raises
    ------
    ModelError
        When no monthly cutoff matured before the held-out window, or a window has a single class.
    """
    as_of = dataset.as_of if as_of is None else pd.Timestamp(as_of)
    held_out = as_of - pd.Timedelta(days=horizon_days)
    cutoffs = [c for c in monthly_cutoffs(dataset, horizon_days=horizon_days)
               if c + pd.Timedelta(days=horizon_days) <= held_out][-int(max_cutoffs):]
    if not cutoffs:
        raise ModelError(f"train_model: no monthly cutoff of {dataset.name!r} matured before {held_out.date()}; "
                         "expected at least one month of history before the latest matured window")
    labels = make_label_times(dataset, cutoffs, horizon_days=horizon_days)
    data = training_data(build_features(dataset, labels), labels)
    model = ChurnXGBClassifier(n_jobs=n_jobs, random_state=random_state, tuning_folds=tuning_folds)
    model.fit(data.X, data.y, groups=data.keys[C.CUSTOMER_ID].to_numpy())
    features, y = _window(dataset, held_out, horizon_days)
    X = model_frame(features, model)
    if y.min() == y.max():
        raise ModelError(f"train_model: the held-out window {held_out.date()} has a single class")
    raw = model.predict_proba(X)[:, 1]
    calibrated = calibrate(model, X, y, method=DEFAULT_CALIBRATION).predict_proba(X)[:, 1]
    figures = {"training_roc_auc": float(roc_auc_score(y, raw)),
               "training_brier": float(brier_score_loss(y, calibrated)),
               "training_rows": float(len(data.y)), "training_cutoffs": float(len(cutoffs))}
    return TrainedModel(model=model, figures=figures, cutoffs=tuple(cutoffs), example=data.X.head(5))


@dataclass(frozen=True)
class ChallengeResult:
    """Champion vs challenger on one matured window, and the decision."""

    cutoff: pd.Timestamp
    n: int
    churners: int
    metric: str
    margin: float
    champion: dict[str, float]
    challenger: dict[str, float]
    promoted: bool
    reason: str

    @property
    def summary(self) -> pd.DataFrame:
        """Rows ``champion`` and ``challenger``: ``roc_auc, brier``; settings in ``attrs``."""
        out = pd.DataFrame([self.champion, self.challenger], index=["champion", "challenger"])
        out.attrs.update(cutoff=self.cutoff, n=self.n, margin=self.margin, promoted=self.promoted)
        return out

    def to_metrics(self) -> dict[str, float]:
        """Flat metrics to log: both figures, the gain and the decision (1 promoted, 0 kept)."""
        return {"champion_roc_auc": self.champion["roc_auc"], "challenger_roc_auc": self.challenger["roc_auc"],
                "champion_brier": self.champion["brier"], "challenger_brier": self.challenger["brier"],
                "challenger_gain": self.challenger[self.metric] - self.champion[self.metric],
                "challenger_promoted": float(self.promoted)}

    def __repr__(self) -> str:
        return (f"ChallengeResult({self.cutoff.date()}, n={self.n:,}, champion {self.champion['roc_auc']:.3f} vs "
                f"challenger {self.challenger['roc_auc']:.3f}, margin {self.margin}, promoted={self.promoted})")

    def _repr_html_(self) -> str:
        return f"<p>{self.reason}</p>" + self.summary.to_html(float_format=lambda v: f"{v:.4f}")


def _figures(model, X: pd.DataFrame, y: np.ndarray) -> dict[str, float]:
    Xm = model_frame(X, model)
    raw = model.predict_proba(Xm)[:, 1]
    cal = calibrate(model, Xm, y, method=DEFAULT_CALIBRATION).predict_proba(Xm)[:, 1]
    return {"roc_auc": float(roc_auc_score(y, raw)), "brier": float(brier_score_loss(y, cal))}


def challenge(champion, challenger, dataset: Dataset, *, as_of=None, horizon_days: int = 30,
              margin: float = DEFAULT_MARGIN) -> ChallengeResult:
    """Compare champion and challenger on the latest matured window; promote only when better by ``margin``.

    Parameters
    ----------
    champion : fitted churn model
        The model holding the ``champion`` alias.
    challenger : fitted churn model
        The retrained model.
    dataset : Dataset
        Data through ``as_of``.
    as_of : timestamp, optional
        Now; the window is the cutoff ``as_of - horizon_days`` (default ``dataset.as_of``).
    horizon_days : int, default 30
        Label window.
    margin : float, default 0.01
        ROC-AUC gain needed.

    Returns
    -------
    ChallengeResult
        ROC-AUC (raw scores, rank quality) and Brier score (after Platt scaling on the window, the weekly job's
        calibration) of both; ``promoted = challenger AUC - champion AUC >= margin``.

    Raises
    ------
    ModelError
        When the window has a single class.
    """
    as_of = dataset.as_of if as_of is None else pd.Timestamp(as_of)
    cutoff = as_of - pd.Timedelta(days=horizon_days)
    features, y = _window(dataset, cutoff, horizon_days)
    if y.min() == y.max():
        raise ModelError(f"challenge: the window {cutoff.date()} has a single class; nothing to compare on")
    a, b = _figures(champion, features, y), _figures(challenger, features, y)
    gain = b["roc_auc"] - a["roc_auc"]
    promoted = bool(gain >= margin)
    verb = "promoted" if promoted else "kept the champion"
    reason = (f"On the window opened {cutoff.date()} ({len(y):,} customers, {int(y.sum())} churners) the challenger's "
              f"ROC-AUC is {b['roc_auc']:.3f} against the champion's {a['roc_auc']:.3f} (gain {gain:+.3f}, margin "
              f"{margin:.3f}): {verb}.")
    return ChallengeResult(cutoff=cutoff, n=int(len(y)), churners=int(y.sum()), metric="roc_auc", margin=float(margin),
                           champion=a, challenger=b, promoted=promoted, reason=reason)


def register_challenger(trained: TrainedModel, decision: ChallengeResult | None, *,
                        registered_model_name: str = "churnlab-churn") -> int | None:
    """Log the trained model, its figures and the decision to the active run; move ``champion`` when promoted.

    Parameters
    ----------
    trained : TrainedModel
        From :func:`train_model`.
    decision : ChallengeResult or None
        None when there was no champion: the first version takes the alias (see :func:`log_model`).
    registered_model_name : str
        Registered model name.

    Returns
    -------
    int or None
        The new version, or None outside a run (nothing is registered).
    """
    from churnlab import tracking
    from churnlab.modeling.registry import CHAMPION, log_model, run_version, set_alias

    tracking.log_metrics(trained.figures)
    if decision is not None:
        tracking.log_metrics(decision.to_metrics())
        tracking.log_params({"challenger_decision": decision.reason})
    uri = log_model(trained.model, trained.example, registered_model_name=registered_model_name)
    run_id = tracking.active_run_id()
    if uri is None or run_id is None:
        return None
    version = run_version(registered_model_name, run_id)
    if version is None:
        return None
    tags = {"churnlab.training_cutoffs": ",".join(c.date().isoformat() for c in trained.cutoffs),
            **{f"churnlab.figure.{k}": f"{v:.6g}" for k, v in trained.figures.items()}}
    if decision is not None:
        tags["churnlab.decision"] = decision.reason
    if decision is not None and decision.promoted:
        set_alias(registered_model_name, CHAMPION, version, tags=tags)
    else:
        client = tracking.client()
        for key, value in tags.items():
            client.set_model_version_tag(registered_model_name, str(version), key, value)
    return version


@dataclass(frozen=True)
class Champion:
    """The model the weekly job scores with, where it came from and its training figures."""

    model: object
    training: dict[str, float]
    tags: dict[str, str]
    version: int | None
    note: str

    def __repr__(self) -> str:
        return f"Champion(version={self.version}, {self.note})"


def champion_or_train(dataset: Dataset, registered_model_name: str | None, *, alias: str = "champion",
                      train_if_missing: bool = True, horizon_days: int = 30, n_jobs: int = 1,
                      random_state: int = 0) -> Champion:
    """Load the registered champion; when none is registered (and allowed), train one and register it.

    Parameters
    ----------
    dataset : Dataset
        Data to train on when there is no champion.
    registered_model_name : str or None
        Registered model name; None never reads the registry (trains a model for this run).
    alias : str, default "champion"
        The alias to load.
    train_if_missing : bool, default True
        Train and register a first champion when the name or alias is not registered.
    horizon_days, n_jobs, random_state
        As in :func:`train_model`.

    Returns
    -------
    Champion
        ``training`` holds ``roc_auc, brier`` (:func:`churnlab.monitor.drift.training_figures`).

    Raises
    ------
    ModelError
        When nothing is registered and ``train_if_missing`` is False.
    """
    from churnlab.modeling.registry import load_model
    from churnlab.monitor.drift import training_figures

    if registered_model_name:
        try:
            model, info = load_model(registered_model_name, alias)
            return Champion(model=model, training=training_figures(info.metrics), tags=info.tags,
                            version=info.version, note=f"{registered_model_name}@{alias} (version {info.version})")
        except ModelError:
            if not train_if_missing:
                raise
    trained = train_model(dataset, horizon_days=horizon_days, n_jobs=n_jobs, random_state=random_state)
    version = register_challenger(trained, None, registered_model_name=registered_model_name) \
        if registered_model_name else None
    tags = {"churnlab.training_cutoffs": ",".join(c.date().isoformat() for c in trained.cutoffs)}
    where = f"registered as {registered_model_name} version {version}" if version else "not registered"
    return Champion(model=trained.model, training=training_figures(trained.figures), tags=tags, version=version,
                    note=f"no champion was registered: trained on {len(trained.cutoffs)} monthly cutoffs, {where}")
