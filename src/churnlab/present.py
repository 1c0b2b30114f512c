"""What a stakeholder reads: the executive summary, numbers in their units, and tables formatted for people.

A report is read by people who never see code, so three things are written here once:

- :func:`executive_summary` is the block a report opens with: the notebook's question, the answer in one
  or two sentences, three to six findings with their numbers, and what to do next. It is displayed where
  the notebook computes it (usually at the end) and the report moves it to the top
  (:func:`churnlab.report.render_notebook` looks for :data:`SUMMARY_ROLE` in the output's metadata).
- :func:`format_value` writes one number in its unit: a percent, money, a count, an AUC, days, a p-value
  (``< 0.001``). Report cards (the spec's ``key_metrics``) and tables use the same function.
- :func:`readable_table` shows a frame without its index, with every column formatted by its kind, long
  timestamps cut to dates, and at most ``max_columns`` columns in the page; a wider table is kept whole as a
  CSV artifact of the run and the page says so.

Every string that reaches the page (a finding, a column name, a cell value from the user's data) is escaped
(:func:`churnlab.notebook.escape` for Markdown, :func:`html.escape` for HTML).
"""

from __future__ import annotations

import html
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from pandas.api import types as ptypes

from churnlab.errors import ChurnlabError

__all__ = [
    "FORMATS",
    "SUMMARY_ROLE",
    "ExecutiveSummary",
    "KeyMetric",
    "ReadableTable",
    "executive_summary",
    "format_value",
    "key_metric",
    "readable_name",
    "readable_table",
]

#: Output metadata key and value that mark the executive summary for the report.
SUMMARY_ROLE = ("churnlab_role", "executive-summary")

#: Kinds a number can be written as (a spec's ``key_metrics`` ``format``, a table column's format).
FORMATS = ("percent", "points", "currency", "count", "auc", "number", "days", "pvalue", "ratio", "text")

_MAX_FINDINGS = 6


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def format_value(value: Any, kind: str = "number", *, unit: str = "", digits: int | None = None) -> str:
    """Write one value for people in its kind and unit.

    Parameters
    ----------
    value : number, str or None
        The value; NaN and None show ``n/a``, infinities ``∞`` (never ``inf``).
    kind : str, default "number"
        One of :data:`FORMATS`: ``percent`` (a share: 0.0712 -> ``7.1%``), ``points`` (a difference of shares:
        0.021 -> ``+2.1 pts``), ``currency`` (``unit`` before the amount, whole above 1,000), ``count``
        (``12,345``), ``auc`` (3 decimals), ``days``, ``pvalue`` (``< 0.001``), ``ratio`` (``2.11×``),
        ``number`` (3 significant digits, whole with separators from 1,000) or ``text`` (as given).
    unit : str
        Shown after the number (before it for ``currency``).
    digits : int, optional
        Decimals for ``percent``, ``points`` and ``auc`` instead of their defaults (1, 1, 3).

    Returns
    -------
    str

    Raises
    ------
    ChurnlabError
        When ``kind`` is not one of :data:`FORMATS`.

    Examples
    --------
    >>> format_value(0.0712, "percent"), format_value(0.00003, "pvalue"), format_value(12774.2, "currency", unit="$")
    ('7.1%', '< 0.001', '$12,774')
    >>> format_value(float("inf"), "count"), format_value(-0.021, "points"), format_value(3526.0, "count")
    ('∞', '−2.1 pts', '3,526')
    """
    if kind not in FORMATS:
        raise ChurnlabError(f"format {kind!r}: expected one of {', '.join(FORMATS)}")
    if value is None or value is pd.NaT:
        return "n/a"
    if kind == "text" or not _is_number(value):
        return str(value)
    number = float(value)
    if math.isnan(number):
        return "n/a"
    if math.isinf(number):
        return "∞" if number > 0 else "−∞"
    sign = "−" if number < 0 else ""
    suffix = f" {unit}" if unit and kind != "currency" else ""
    if kind == "percent":
        return f"{sign}{abs(number) * 100:.{1 if digits is None else digits}f}%{suffix}"
    if kind == "points":
        plus = "+" if number > 0 else sign
        return f"{plus}{abs(number) * 100:.{1 if digits is None else digits}f} pts"
    if kind == "pvalue":
        return "< 0.001" if number < 0.001 else f"{number:.3f}"
    if kind == "auc":
        return f"{number:.{3 if digits is None else digits}f}"
    if kind == "ratio":
        return f"{number:.2f}×"
    if kind == "count" or (number.is_integer() and abs(number) < 1e15) or abs(number) >= 1000:
        text = f"{abs(number):,.0f}"
    elif kind == "currency":
        text = f"{abs(number):,.2f}"
    else:
        text = f"{abs(number):.3g}"
    if kind == "currency":
        return f"{sign}{unit}{text}"
    if kind == "days":
        return f"{sign}{text} day{'' if abs(number) == 1 else 's'}"
    return f"{sign}{text}{suffix}"


@dataclass(frozen=True)
class KeyMetric:
    """A number a report shows as a card: the logged metric's name, a label for people, a format and a unit."""

    name: str
    label: str
    format: str = "number"
    unit: str = ""

    def text(self, value: Any) -> str:
        """Return ``value`` written in this metric's format and unit."""
        return format_value(value, self.format, unit=self.unit)

    def to_dict(self) -> dict[str, str]:
        """Return the plain mapping a run record stores."""
        return {"name": self.name, "label": self.label, "format": self.format, "unit": self.unit}


_KEY_METRIC_KEYS = ("name", "label", "format", "unit")

#: Abbreviations written in capitals when a metric or column name is made readable.
_ACRONYMS = {"auc", "roc", "pr", "mde", "ltv", "clv", "nps", "csat", "mrr", "srm", "cuped", "sla", "fcr", "ci", "roi",
             "psi", "id", "b2b", "b2c"}


def readable_name(name: str) -> str:
    """Return a metric or column name as words: ``xgboost_out_of_time_roc_auc`` -> ``Xgboost out of time ROC AUC``.

    Examples
    --------
    >>> readable_name("model_to_oracle_auc"), readable_name("nps")
    ('Model to oracle AUC', 'NPS')
    """
    words = [w.upper() if w.lower() in _ACRONYMS else w for w in str(name).replace(".", " ").split("_") if w]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def key_metric(raw: Any, value: float | None = None) -> KeyMetric:
    """Read one ``key_metrics`` entry of a spec: a metric name, or ``{name, label, format, unit}``.

    Parameters
    ----------
    raw : str or mapping
        ``"churn_rate"`` (label from the name, format guessed: ``*rate*``/``*share*`` as percent, ``*auc*`` as AUC,
        ``n_*``/``customers`` as a count), or ``{name: churn_rate, label: "Monthly churn", format: percent}``.
    value : float, optional
        The metric's value, when known: a guessed format must fit it (a ``*churn*`` metric of 30,658,510 is
        money, not a share, so it is shown as a number).

    Returns
    -------
    KeyMetric

    Raises
    ------
    ChurnlabError
        For an entry that is neither, an unknown key or an unknown format (the message names it).

    Examples
    --------
    >>> key_metric("xgboost_out_of_time_roc_auc").format
    'auc'
    >>> key_metric({"name": "best_net_profit", "label": "Net profit", "format": "currency", "unit": "$"}).label
    'Net profit'
    >>> key_metric("churn_cut_revenue_gain", 30658510.0).format
    'number'
    """
    if isinstance(raw, str):
        raw = {"name": raw}
    if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str) or not raw["name"]:
        raise ChurnlabError(f"key metric {raw!r}: expected a metric name or a mapping with name, label, format, unit")
    unknown = sorted(set(raw) - set(_KEY_METRIC_KEYS))
    if unknown:
        raise ChurnlabError(f"key metric {raw['name']!r}: unknown key(s) {unknown}; expected {list(_KEY_METRIC_KEYS)}")
    name = raw["name"]
    kind = raw.get("format") or _guess_kind(name, pd.Series([0.5 if value is None else float(value)]))
    if kind not in FORMATS:
        raise ChurnlabError(f"key metric {name!r}: format {kind!r} is not one of {', '.join(FORMATS)}")
    label = raw.get("label") or readable_name(name)
    return KeyMetric(name=name, label=str(label), format=kind, unit=str(raw.get("unit") or ""))


def _md_text(item: Any) -> str:
    """Markdown of a finding: a :class:`churnlab.notebook.Finding` as written, anything else escaped."""
    from churnlab.notebook import Finding, escape

    if isinstance(item, Finding):
        return item.markdown
    return escape(item)


@dataclass(frozen=True)
class ExecutiveSummary:
    """The block a report opens with; displays as Markdown marked with :data:`SUMMARY_ROLE`."""

    question: str
    answer: str
    findings: tuple[str, ...]
    next_steps: tuple[str, ...]

    def markdown(self) -> str:
        """Return the summary as Markdown (its parts are already escaped)."""
        lines = ["## Summary", "", f"**Question.** {self.question}", "", f"**Answer.** {self.answer}", "",
                 "**What we found**", ""]
        lines += [f"- {f}" for f in self.findings]
        if self.next_steps:
            lines += ["", "**What to do next**", ""] + [f"- {s}" for s in self.next_steps]
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return self.markdown()

    def display(self) -> None:
        """Display the summary in the notebook with the metadata the report looks for."""
        try:
            from IPython import get_ipython
            from IPython.display import Markdown, display
        except ImportError:  # pragma: no cover - IPython ships with every kernel
            return
        if get_ipython() is not None:
            display(Markdown(self.markdown()), metadata={SUMMARY_ROLE[0]: SUMMARY_ROLE[1]})


def executive_summary(question: str, answer: Any, findings: Sequence[Any], next_steps: Sequence[Any] = (), *,
                      show: bool = True) -> ExecutiveSummary:
    """Build (and display) a notebook's executive summary, the first thing its report shows.

    Parameters
    ----------
    question : str
        The notebook's question, written by its author (Markdown allowed: it is not data).
    answer : Finding or str
        The answer in one or two sentences; a :func:`churnlab.notebook.finding` keeps its formatting, a plain
        string is escaped.
    findings : sequence of Finding or str
        Three to six findings with computed numbers (fewer when sections were skipped for lack of data;
        never more than six).
    next_steps : sequence of Finding or str
        What to do next.
    show : bool, default True
        Display it now (in a kernel).

    Returns
    -------
    ExecutiveSummary

    Raises
    ------
    ChurnlabError
        With no finding, or more than six.

    Examples
    --------
    >>> s = executive_summary("Who leaves?", "<b>B2C</b> customers.", ["churn 7%"], show=False)
    >>> s.answer
    '&lt;b&gt;B2C&lt;/b&gt; customers.'
    """
    found = [f for f in findings if f is not None and str(f).strip()]
    if not found or len(found) > _MAX_FINDINGS:
        raise ChurnlabError(f"executive_summary: expected 1 to {_MAX_FINDINGS} findings, got {len(found)}")
    summary = ExecutiveSummary(
        question=str(question), answer=_md_text(answer), findings=tuple(_md_text(f) for f in found),
        next_steps=tuple(_md_text(s) for s in next_steps if s is not None and str(s).strip()),
    )
    if show:
        summary.display()
    return summary


@dataclass(frozen=True)
class ReadableTable:
    """A table formatted for people; renders as HTML without an index. ``artifact`` names the full CSV."""

    frame: pd.DataFrame
    shown: tuple[str, ...]
    artifact: str | None
    caption: str | None
    n_rows: int = 0
    n_columns: int = 0

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in self.shown)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
            for row in self.frame[list(self.shown)].itertuples(index=False)
        )
        note = ""
        if self.artifact:
            note = (f'<p class="cl-note">The whole table ({self.n_rows:,} rows, {self.n_columns} columns) is the '
                    f"run's artifact <code>{html.escape(self.artifact)}</code>.</p>")
        cap = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        return f'<table class="cl-table">{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{note}'

    def __repr__(self) -> str:
        return f"ReadableTable({len(self.frame)} rows, {len(self.shown)} of {self.frame.shape[1]} columns)"


def _guess_kind(name: str, series: pd.Series) -> str:
    lowered = str(name).lower()
    if ptypes.is_bool_dtype(series.dtype):
        return "text"
    if not ptypes.is_numeric_dtype(series.dtype):
        return "text"
    if lowered in ("p", "p_value", "pvalue") or lowered.endswith("_p") or lowered.startswith("p_"):
        return "pvalue"
    if "auc" in lowered:
        return "auc"
    if any(w in lowered for w in ("rate", "share", "pct", "retention", "conversion", "churn")):
        if series.dropna().between(-1, 1).all():
            return "percent"
    if ptypes.is_integer_dtype(series.dtype) or lowered in ("n", "count", "customers") or lowered.startswith("n_"):
        return "count"
    return "number"


def _cell(value: Any, kind: str, unit: str) -> str:
    if isinstance(value, pd.Timestamp):
        return "n/a" if value is pd.NaT else (value.strftime("%Y-%m-%d") if value == value.normalize()
                                              else value.strftime("%Y-%m-%d %H:%M"))
    if isinstance(value, pd.Timedelta):
        return format_value(value / pd.Timedelta(days=1), "days")
    try:
        if pd.isna(value):
            return "n/a"
    except (TypeError, ValueError):
        pass
    return format_value(value, kind, unit=unit)


def readable_table(frame: pd.DataFrame, formats: Mapping[str, str] | None = None, *,
                   units: Mapping[str, str] | None = None, labels: Mapping[str, str] | None = None,
                   max_columns: int = 8, max_rows: int = 30,
                   name: str | None = None, caption: str | None = None, index: bool = False) -> ReadableTable:
    """Format a frame for a report: no index, every column in its kind, at most ``max_columns`` in the page.

    Parameters
    ----------
    frame : DataFrame
        Any table; it is not changed.
    formats : mapping of column to kind, optional
        Kinds of :func:`format_value`; other columns are guessed from their name and dtype (``*rate*`` and
        ``*share*`` in [-1, 1] as percent, ``p`` as p-value, integers as counts, timestamps as dates).
    units, labels : mapping of column to str, optional
        A unit per column (currency symbol, "days"); a readable header per column.
    max_columns : int, default 8
        Columns shown in the page; the first ones are kept. A wider table is written whole as the CSV
        artifact ``name`` (required then) in the run folder and logged to the run.
    max_rows : int, default 30
        Rows shown; the rest are in the artifact (``name`` then required too).
    name : str, optional
        File name of the full table (``"support_by_line.csv"``).
    caption : str, optional
        Shown above the table.
    index : bool, default False
        Keep the frame's index as first column(s) (a labelled index such as ``segment``).

    Returns
    -------
    ReadableTable

    Raises
    ------
    ChurnlabError
        When the table is too wide or long for the page and no ``name`` is given, or a format is unknown.
    """
    formats = dict(formats or {})
    units, labels = dict(units or {}), dict(labels or {})
    df = frame.reset_index() if index else frame.reset_index(drop=True)
    too_big = df.shape[1] > max_columns or len(df) > max_rows
    artifact = None
    if too_big:
        if not name:
            raise ChurnlabError(f"readable_table: {df.shape[1]} columns x {len(df)} rows exceed the page "
                                f"({max_columns} x {max_rows}); give name= to keep the whole table as a CSV artifact")
        from churnlab.notebook import save_list

        artifact = save_list(df, name).name
    out = pd.DataFrame(index=range(min(len(df), max_rows)))
    for col in df.columns:
        kind = formats.get(col) or _guess_kind(col, df[col])
        if kind not in FORMATS:
            raise ChurnlabError(f"readable_table: column {col!r}: format {kind!r} is not one of {', '.join(FORMATS)}")
        out[labels.get(col, str(col).replace("_", " "))] = [
            _cell(v, kind, units.get(col, "")) for v in df[col].iloc[:max_rows]
        ]
    shown = tuple(out.columns[:max_columns])
    return ReadableTable(frame=out, shown=shown, artifact=artifact, caption=caption, n_rows=len(df),
                         n_columns=df.shape[1])
