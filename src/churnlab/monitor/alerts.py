"""Alert rules in YAML that fire only when the interval excludes the threshold; notification through apprise.

A rule names a ``metric`` of the monitoring table, a ``segment`` (a value, ``all``, or ``each`` for every
segment and ``all``), a ``kind`` and a ``direction``:

- ``threshold``: the metric of this run against a fixed level -- ``above`` fires when the interval's lower
  bound is above ``threshold``, ``below`` when its upper bound is below it;
- ``change``: this run against the pooled previous ``baseline_runs`` runs -- the difference (interval by
  MOVER, Zou & Donner 2008) must clear ``threshold`` (an absolute change) in the direction.

A rule is checked only when this run's ``n`` reaches ``min_n``: small segments do not flap. Alerts use
99% intervals by default (``alpha: 0.01``): OPINIONS.md, "Alert intervals". A fired alert makes
``churnlab score`` exit with :data:`EXIT_ALERT` (3).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from churnlab.errors import SpecError
from churnlab.intervals import wilson_interval
from churnlab.monitor.rulefile import check_rule_item, read_rule_file

__all__ = ["EXIT_ALERT", "AlertRule", "ALERT_COLUMNS", "default_alerts_path", "load_alerts", "parse_alerts",
           "evaluate_alerts", "alert_message", "notify"]

#: Exit code of ``churnlab score`` when an alert fired (0 ok, 1 failed, 2 bad input, 130 interrupted).
EXIT_ALERT = 3
#: Columns of :func:`evaluate_alerts`.
ALERT_COLUMNS = ("alert", "metric", "segment", "kind", "direction", "threshold", "min_n", "n", "value", "lower",
                 "upper", "baseline", "change", "change_lower", "change_upper", "fired", "status", "words")

_KINDS = ("threshold", "change")
_DIRECTIONS = ("above", "below")
_REQUIRED = {"name", "metric", "kind", "threshold", "direction"}
_OPTIONAL = {"segment", "min_n", "baseline_runs", "alpha", "words"}


@dataclass(frozen=True)
class AlertRule:
    """One alert rule (see the module docstring)."""

    name: str
    metric: str
    kind: str
    threshold: float
    direction: str
    segment: str = "each"
    min_n: int = 100
    baseline_runs: int = 4
    alpha: float = 0.01
    words: str = ""


def default_alerts_path() -> Path:
    """Path of the packaged alert rules, ``churnlab/rules/alerts.yaml``."""
    return Path(str(resources.files("churnlab") / "rules" / "alerts.yaml"))


def _number(item: dict, key: str, label: str, cast=float):
    try:
        return cast(item[key])
    except (TypeError, ValueError):
        raise SpecError(f"alert rule {label!r}: {key} must be a number, got {item[key]!r}") from None


def parse_alerts(items: Iterable[dict], source: str = "") -> tuple[AlertRule, ...]:
    """Validate a list of alert-rule mappings.

    Raises
    ------
    SpecError
        One line naming the rule and the problem (missing or unknown key, unknown kind or direction, a
        non-numeric threshold, ``min_n`` below 1, ``alpha`` outside (0, 1), duplicate names).
    """
    if not isinstance(items, list) or not items:
        raise SpecError(f"alert rules {source}: expected a non-empty list of rules")
    out, names = [], set()
    for i, item in enumerate(items):
        label = check_rule_item(item, i, "alert rule", _REQUIRED, _OPTIONAL)
        if item["kind"] not in _KINDS:
            raise SpecError(f"alert rule {label!r}: kind {item['kind']!r}; expected one of {list(_KINDS)}")
        if item["direction"] not in _DIRECTIONS:
            raise SpecError(f"alert rule {label!r}: direction {item['direction']!r}; expected one of "
                            f"{list(_DIRECTIONS)}")
        if item["name"] in names:
            raise SpecError(f"alert rule {label!r}: duplicate name")
        names.add(item["name"])
        rule = AlertRule(name=str(item["name"]), metric=str(item["metric"]), kind=item["kind"],
                         threshold=_number(item, "threshold", label), direction=item["direction"],
                         segment=str(item.get("segment", "each")),
                         min_n=_number({"min_n": item.get("min_n", 100)}, "min_n", label, int),
                         baseline_runs=_number({"baseline_runs": item.get("baseline_runs", 4)}, "baseline_runs",
                                               label, int),
                         alpha=_number({"alpha": item.get("alpha", 0.01)}, "alpha", label),
                         words=str(item.get("words", "")))
        if rule.min_n < 1 or rule.baseline_runs < 1:
            raise SpecError(f"alert rule {label!r}: min_n and baseline_runs must be at least 1")
        if not 0 < rule.alpha < 1:
            raise SpecError(f"alert rule {label!r}: alpha must lie strictly between 0 and 1, got {rule.alpha}")
        out.append(rule)
    return tuple(out)


def load_alerts(path: str | Path | None = None) -> tuple[AlertRule, ...]:
    """Read alert rules from YAML (default: the packaged :func:`default_alerts_path`).

    Raises
    ------
    SpecError
        When the file is missing or a rule is malformed.
    """
    return read_rule_file(path, default_alerts_path(), "alert rules", parse_alerts)


def _interval(row: pd.Series, alpha: float) -> tuple[float, float]:
    """Return the row's interval: Wilson at ``alpha`` from its counts for a proportion, else as stored."""
    n, x = float(row["n"]), float(row["successes"])
    if np.isfinite(n) and n > 0 and np.isfinite(x) and 0 <= x <= n and 0 <= row["value"] <= 1 \
            and abs(row["value"] - x / n) < 1e-9:
        lo, hi = wilson_interval(x, n, alpha)
        return float(lo), float(hi)
    return float(row["lower"]), float(row["upper"])


def _baseline(history: pd.DataFrame, alpha: float) -> tuple[float, float, float]:
    """Pooled baseline of earlier runs: successes / n with Wilson when they are proportions, else the mean."""
    n, x = history["n"].astype(float), history["successes"].astype(float)
    proportions = np.allclose(history["value"], x / n.where(n > 0), equal_nan=False) if len(history) else False
    if proportions and n.sum() > 0:
        lo, hi = wilson_interval(x.sum(), n.sum(), alpha)
        return float(x.sum() / n.sum()), float(lo), float(hi)
    values = history["value"].astype(float)
    mean = float(values.mean())
    half = float(values.std(ddof=1) / np.sqrt(len(values))) * 2.576 if len(values) > 1 else np.nan
    return mean, mean - half, mean + half


def _segments(table: pd.DataFrame, rule: AlertRule) -> list[str]:
    present = sorted(table.loc[table["metric"] == rule.metric, "segment"].astype(str).unique())
    if rule.segment == "each":
        return present
    return [rule.segment] if rule.segment in present else []


def evaluate_alerts(table: pd.DataFrame, rules: Sequence[AlertRule], run_at=None) -> pd.DataFrame:
    """Check every rule on this run's rows of a monitoring table.

    Parameters
    ----------
    table : DataFrame
        Monitoring rows (:data:`churnlab.monitor.metrics.METRIC_COLUMNS`) of this run and earlier runs. A
        proportion's interval is recomputed at the rule's ``alpha`` from its counts; other metrics (PSI, gaps,
        AUC) carry their interval as computed, so compute them at the rules' ``alpha``.
    rules : sequence of AlertRule
        From :func:`load_alerts`.
    run_at : timestamp, optional
        This run; default the latest ``run_at`` in the table.

    Returns
    -------
    DataFrame
        One row per rule and segment (:data:`ALERT_COLUMNS`): ``status`` says ``fired``, ``within`` (the
        interval includes the threshold), ``small n`` (below ``min_n``), ``no baseline`` or ``no data``;
        ``fired`` is True only for ``fired``.

    Notes
    -----
    Change interval (MOVER, Zou & Donner 2008): with this run ``v [l, u]`` and baseline ``b [lb, ub]``,
    ``d = v - b``, ``d_lower = d - sqrt((v - l)^2 + (ub - b)^2)``, ``d_upper = d + sqrt((u - v)^2 + (b - lb)^2)``;
    for two proportions with Wilson intervals this is Newcombe's (1998) method 10.

    References
    ----------
    .. [1] Zou, G. Y. and Donner, A. (2008) Construction of confidence limits about effect measures: a general
       approach. Statistics in Medicine 27, 1693-1702.
    """
    rows = []
    if table.empty:
        return pd.DataFrame(columns=list(ALERT_COLUMNS))
    run_at = pd.Timestamp(run_at) if run_at is not None else pd.Timestamp(table["run_at"].max())
    for rule in rules:
        base = {"alert": rule.name, "metric": rule.metric, "kind": rule.kind, "direction": rule.direction,
                "threshold": rule.threshold, "min_n": rule.min_n, "words": rule.words}
        segments = _segments(table, rule)
        if not segments:
            rows.append({**base, "segment": rule.segment, "fired": False, "status": "no data"})
            continue
        for seg in segments:
            mine = table[(table["metric"] == rule.metric) & (table["segment"].astype(str) == seg)]
            now = mine[mine["run_at"] == run_at]
            if now.empty:
                rows.append({**base, "segment": seg, "fired": False, "status": "no data"})
                continue
            row = now.iloc[-1]
            lo, hi = _interval(row, rule.alpha)
            out = {**base, "segment": seg, "n": float(row["n"]), "value": float(row["value"]), "lower": lo,
                   "upper": hi}
            if float(row["n"]) < rule.min_n:
                rows.append({**out, "fired": False, "status": "small n"})
                continue
            if rule.kind == "threshold":
                beyond = lo > rule.threshold if rule.direction == "above" else hi < rule.threshold
            else:
                history = mine[mine["run_at"] < run_at].sort_values("run_at").tail(rule.baseline_runs)
                if history.empty:
                    rows.append({**out, "fired": False, "status": "no baseline"})
                    continue
                b, b_lo, b_hi = _baseline(history, rule.alpha)
                v = float(row["value"])
                d = v - b
                d_lo = d - np.sqrt((v - lo) ** 2 + (b_hi - b) ** 2)
                d_hi = d + np.sqrt((hi - v) ** 2 + (b - b_lo) ** 2)
                out.update(baseline=b, change=d, change_lower=d_lo, change_upper=d_hi)
                beyond = d_lo > rule.threshold if rule.direction == "above" else d_hi < -abs(rule.threshold)
            fired = bool(beyond) if np.isfinite(lo) or rule.kind == "change" else False
            rows.append({**out, "fired": fired, "status": "fired" if fired else "within"})
    return pd.DataFrame(rows, columns=list(ALERT_COLUMNS))


def alert_message(alerts: pd.DataFrame, *, title: str = "churnlab weekly job") -> tuple[str, str]:
    """Word the fired alerts as a notification: ``(title, body)`` with one line per alert.

    Examples
    --------
    >>> a = pd.DataFrame([{"alert": "churn_up", "segment": "B2C", "metric": "churn_rate", "value": 0.031,
    ...                    "lower": 0.02, "upper": 0.045, "fired": True, "words": "weekly churn rose"}])
    >>> alert_message(a)[1]
    'churn_up (B2C): weekly churn rose; churn_rate 0.031 [0.02, 0.045]'
    """
    fired = alerts[alerts["fired"].astype(bool)] if len(alerts) else alerts
    head = f"{title}: {len(fired)} alert(s) fired"
    lines = [f"{r['alert']} ({r['segment']}): {r['words'] or r['metric']}; {r['metric']} {r['value']:.3g} "
             f"[{r['lower']:.3g}, {r['upper']:.3g}]" for _, r in fired.iterrows()]
    return head, "\n".join(lines)


def notify(alerts: pd.DataFrame, urls: Sequence[str] | str, *, title: str = "churnlab weekly job") -> bool:
    """Send the fired alerts to every apprise URL (mail, Slack, Teams, webhooks); nothing when none fired.

    Parameters
    ----------
    alerts : DataFrame
        From :func:`evaluate_alerts`.
    urls : sequence of str or str
        Apprise URLs (``json://host:port/path``, ``mailto://...``, ``slack://...``); a string may hold several
        separated by commas or spaces.
    title : str
        Notification title.

    Returns
    -------
    bool
        True when a notification was sent to every URL; False when nothing fired or nothing was configured.

    Raises
    ------
    SpecError
        When a URL is not one apprise understands, or a service refused the notification.
    """
    import apprise

    if isinstance(urls, str):
        urls = [u for u in urls.replace(",", " ").split() if u]
    urls = [str(u) for u in urls if str(u).strip()]
    if not urls or alerts.empty or not alerts["fired"].astype(bool).any():
        return False
    sender = apprise.Apprise()
    for url in urls:
        if not sender.add(url):
            raise SpecError(f"alert notification: {url.split('://')[0]}:// URL not understood by apprise")
    head, body = alert_message(alerts, title=title)
    if not sender.notify(title=head, body=body):
        raise SpecError("alert notification: a service refused the notification (see the apprise log)")
    return True
