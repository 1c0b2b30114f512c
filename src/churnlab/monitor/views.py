"""CRM views as saved rules: each a YAML rule over features and CRM signals, with its own list and its record.

A view file has ``breaks`` (known breaks excluded from idle days, :func:`churnlab.monitor.signals.parse_breaks`)
and ``views``: ``{name, when, words[, action]}``, ``when`` in the grammar of the risk rules
(:func:`churnlab.patterns.rules.evaluate_expression`: feature names, numbers, comparisons, and/or/not,
arithmetic; nothing that runs code). A view whose signals the data lacks (no renewal dates, no messages)
is reported as unavailable instead of failing the job. :func:`view_lists` gives each view's customers this
week (holdout customers never on a list); :func:`view_performance` its precision and recall on the last
window whose labels have matured.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd

from churnlab import config as C
from churnlab.errors import SpecError
from churnlab.monitor.rulefile import check_rule_item, read_rule_file
from churnlab.patterns.exposure import compare_exposed
from churnlab.patterns.rules import evaluate_expression, expression_names
from churnlab.schema import require_columns

__all__ = ["View", "ViewSet", "default_views_path", "load_views", "parse_views", "available_views", "view_lists",
           "view_performance"]

_KEYS, _OPTIONAL = {"name", "when", "words"}, {"action"}


@dataclass(frozen=True)
class View:
    """One CRM view: the customers for whom ``when`` holds, worded ``words``, to get ``action``."""

    name: str
    when: str
    words: str
    action: str = ""

    @property
    def signals(self) -> list[str]:
        """Feature and signal names the view reads."""
        return expression_names(self.when, rule=self.name)


@dataclass(frozen=True)
class ViewSet:
    """The views of one file and its known breaks."""

    views: tuple[View, ...]
    breaks: tuple[tuple[pd.Timestamp, pd.Timestamp], ...] = ()
    source: str = ""

    def __iter__(self):
        return iter(self.views)

    def __len__(self) -> int:
        return len(self.views)

    def __repr__(self) -> str:
        return f"ViewSet({len(self.views)} views, {len(self.breaks)} known breaks, source={self.source!r})"


def default_views_path() -> Path:
    """Path of the packaged CRM views, ``churnlab/rules/crm_views.yaml``."""
    return Path(str(resources.files("churnlab") / "rules" / "crm_views.yaml"))


def parse_views(document: dict, source: str = "") -> ViewSet:
    """Validate a view document ``{breaks: [...], views: [...]}``.

    Raises
    ------
    SpecError
        One line naming the view and the problem (missing or unknown key, duplicate name, an expression outside
        the grammar, a malformed break).
    """
    from churnlab.monitor.signals import parse_breaks

    if not isinstance(document, dict) or not isinstance(document.get("views"), list) or not document["views"]:
        raise SpecError(f"CRM views {source}: expected a mapping with a non-empty 'views' list")
    unknown_top = set(document) - {"views", "breaks"}
    if unknown_top:
        raise SpecError(f"CRM views {source}: unknown key(s) {sorted(unknown_top)}; allowed ['breaks', 'views']")
    views, names = [], set()
    for i, item in enumerate(document["views"]):
        label = check_rule_item(item, i, "CRM view", _KEYS, _OPTIONAL)
        if item["name"] in names:
            raise SpecError(f"CRM view {label!r}: duplicate name")
        names.add(item["name"])
        view = View(str(item["name"]), str(item["when"]), str(item["words"]), str(item.get("action", "")))
        view.signals  # noqa: B018 - checks the grammar now, not at the first evaluation
        views.append(view)
    return ViewSet(tuple(views), tuple(parse_breaks(document.get("breaks"))), source)


def load_views(path: str | Path | None = None) -> ViewSet:
    """Read CRM views from YAML (default: the packaged :func:`default_views_path`).

    Raises
    ------
    SpecError
        When the file is missing or a view is malformed.
    """
    return read_rule_file(path, default_views_path(), "CRM views", parse_views)


def available_views(views: ViewSet | Sequence[View], columns) -> tuple[list[View], dict[str, str]]:
    """Split the views into those the frame's columns allow and the others, with what each lacks.

    Returns
    -------
    usable : list of View
    missing : dict of str to str
        View name -> ``"needs <signal>, ..."``.
    """
    cols = set(columns)
    usable, missing = [], {}
    for v in views:
        lacking = [s for s in v.signals if s not in cols]
        if lacking:
            missing[v.name] = "needs " + ", ".join(lacking)
        else:
            usable.append(v)
    return usable, missing


def view_lists(views: ViewSet | Sequence[View], features: pd.DataFrame, *, holdout=None) -> pd.DataFrame:
    """List each view's customers at the frame's cutoff; holdout customers never appear.

    Parameters
    ----------
    views : ViewSet
        From :func:`load_views`.
    features : DataFrame
        ``customer_id, cutoff`` with the features and CRM signals (:func:`churnlab.monitor.signals.add_crm_signals`).
    holdout : array of bool, optional
        Aligned with ``features``: the programme holdout flags.

    Returns
    -------
    DataFrame
        One row per customer and view that holds: ``view, customer_id, cutoff, words, action``. ``attrs``
        carry ``unavailable`` (view -> what it lacks) and ``held_out`` (view -> holdout customers left out).
    """
    require_columns(features, [C.CUSTOMER_ID, C.CUTOFF], table="features")
    usable, missing = available_views(views, features.columns)
    keep = pd.Series(True, index=features.index) if holdout is None else ~pd.Series(holdout, index=features.index)
    parts, held = [], {}
    for v in usable:
        hit = evaluate_expression(v.when, features, rule=v.name)
        held[v.name] = int((hit & ~keep).sum())
        rows = features.loc[hit & keep, [C.CUSTOMER_ID, C.CUTOFF]]
        parts.append(rows.assign(view=v.name, words=v.words, action=v.action))
    cols = ["view", C.CUSTOMER_ID, C.CUTOFF, "words", "action"]
    out = pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)
    out.attrs.update(unavailable=missing, held_out=held)
    return out


def view_performance(views: ViewSet | Sequence[View], features: pd.DataFrame, labels: pd.DataFrame, *,
                     alpha: float = 0.05) -> pd.DataFrame:
    """Measure each view against the churn that followed on a matured window: precision, recall, lift.

    Parameters
    ----------
    views : ViewSet
        From :func:`load_views`.
    features : DataFrame
        Features and CRM signals at the window's cutoff.
    labels : DataFrame
        ``customer_id, cutoff, label`` of the same window.
    alpha : float, default 0.05
        One minus the intervals' level.

    Returns
    -------
    DataFrame
        One row per view: ``view, words, available`` (False with ``missing`` saying what it lacks), then the
        :data:`churnlab.patterns.exposure.COLUMNS` of :func:`~churnlab.patterns.exposure.compare_exposed`
        (``n_exposed`` = the view's list size, ``precision`` = churn among them with Wilson bounds
        ``churn_exposed_lower/upper``, ``recall`` = share of churners on the list).
    """
    require_columns(labels, [C.CUSTOMER_ID, C.CUTOFF, C.LABEL], table="labels")
    keys = [C.CUSTOMER_ID, C.CUTOFF]
    frame = features.assign(**{C.CUSTOMER_ID: features[C.CUSTOMER_ID].astype(str)}).merge(
        labels[keys + [C.LABEL]].assign(**{C.CUSTOMER_ID: labels[C.CUSTOMER_ID].astype(str)}), on=keys, how="inner")
    usable, missing = available_views(views, frame.columns)
    for v in usable:
        frame[f"view:{v.name}"] = evaluate_expression(v.when, frame, rule=v.name)
    rows = []
    table = compare_exposed(frame, [f"view:{v.name}" for v in usable], alpha=alpha) if usable else None
    for v in views:
        head = {"view": v.name, "words": v.words, "available": v.name not in missing,
                "missing": missing.get(v.name, "")}
        if table is not None and v.name not in missing:
            rows.append({**head, **table[table["exposure"] == f"view:{v.name}"].iloc[0].to_dict()})
        else:
            rows.append(head)
    return pd.DataFrame(rows)
