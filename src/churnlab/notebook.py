"""What a notebook calls between the analyses: open its data, show a figure, write a finding, write a file.

Every notebook in ``notebooks/`` starts the same way and ends its sections the same way, so the
helpers live here once:

- :func:`open_data` opens the data a spec prepared (``data_dir``), a named source, a files config or
  a saved synthetic world, and returns the dataset with its ground truth (``None`` outside the
  synthetic world); with no ``data_dir`` it opens the notebook's default (a small synthetic world,
  or the committed sample shop).
- :func:`show_figure` shows a figure in the page, logs it to the run (:func:`churnlab.tracking.log_figure`)
  and closes it, so a figure is never drawn twice nor kept in memory.
- :func:`finding` writes a one-sentence finding from computed numbers: numbers are formatted for
  people, and every string value (a segment name from the user's own data, a parameter) is escaped
  for Markdown and HTML, so data cannot inject markup or script into the page and its report.
- :func:`output_path` says where a notebook writes a file: the run folder under ``churnlab run``
  (``$CHURNLAB_RUN_DIR``), otherwise ``<project root>/scratch/`` (git-ignored), never ``notebooks/``.
  :func:`save_list` writes a customer-level list there and logs it as a run artifact, and
  :func:`input_path` finds a file an earlier notebook wrote.
- :func:`column_summary` describes a customer table column by column, the aggregate a report shows
  instead of customer rows, and :func:`problem_table` lists validation problems without their example
  keys (OPINIONS.md, "Customer ids in reports").
"""

from __future__ import annotations

import html
import math
import numbers
import os
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from churnlab import tracking
from churnlab.config import CUSTOMER_ID, RUN_DIR_ENV, project_root
from churnlab.errors import ChurnlabError, DataSourceError
from churnlab.schema import Dataset

__all__ = [
    "RUN_DIR_ENV",
    "SCRATCH_FOLDER",
    "Finding",
    "open_data",
    "show_figure",
    "finding",
    "escape",
    "format_number",
    "output_path",
    "input_path",
    "save_list",
    "column_summary",
    "problem_table",
]

#: Folder under the project root for files written outside ``churnlab run`` (git-ignored).
SCRATCH_FOLDER = "scratch"
#: Default of :func:`open_data` meaning "generate a synthetic world here".
SYNTHETIC = "synthetic"

# Markdown punctuation that can start emphasis, code, links, headings, lists, tables or math
# (CommonMark lets any ASCII punctuation be backslash-escaped; Jupyter renders ``$`` as math).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-!|~$])")


# --- data -----------------------------------------------------------------------------------------


def open_data(data_dir: str | Path = "", *, default: str | Path = SYNTHETIC, n_customers: int | None = None,
              seed: int = 0):
    """Open the data a notebook runs on, with its ground truth when it is a synthetic world.

    Parameters
    ----------
    data_dir : str or Path, default ""
        What the spec prepared or the analyst names: a folder written by ``Dataset.save`` (with a
        ``truth/`` folder when it is a synthetic world saved by ``save_world``), a source name
        (``telco``, ``mlc_churn``, ``cdnow``) or a files config (``*.yaml``). Empty: ``default``.
    default : str or Path, default "synthetic"
        Used when ``data_dir`` is empty: ``"synthetic"`` generates a world of ``n_customers`` with
        ``seed``; anything else is opened like ``data_dir`` (a relative path is read from the project root).
    n_customers : int, optional
        Customers of the generated world (needed when it is generated).
    seed : int, default 0
        Seed of the generated world.

    Returns
    -------
    tuple of (Dataset, Truth or None)
        The dataset, and the world's :class:`~churnlab.data.synthetic.Truth` or ``None`` for data
        without ground truth.

    Raises
    ------
    DataSourceError
        When ``data_dir`` (or ``default``) is none of the above, or a world is to be generated
        without ``n_customers``; the message names it.
    """
    source = str(data_dir).strip() if data_dir is not None else ""
    if not source:
        if str(default) == SYNTHETIC:
            from churnlab.data.synthetic import generate

            if n_customers is None:
                raise DataSourceError("open_data: data_dir is empty and the default is a synthetic world, "
                                      "so n_customers is needed (a positive int)")
            return generate(int(n_customers), seed=seed)
        path = Path(default)
        source = str(path if path.is_absolute() else project_root() / path)
    from churnlab.data.synthetic.storage import TRUTH_FOLDER

    folder = Path(source)
    if folder.is_dir() and (folder / TRUTH_FOLDER).is_dir():
        from churnlab.data.synthetic import load_world

        return load_world(folder)
    from churnlab.data import load

    dataset: Dataset = load(source)
    return dataset, None


# --- figures --------------------------------------------------------------------------------------


def show_figure(fig: Any, name: str) -> str:
    """Show a figure in the notebook, log it to the run as ``name`` and close it.

    Parameters
    ----------
    fig : matplotlib.figure.Figure or matplotlib.axes.Axes
        The figure, or an Axes on it (what the ``churnlab.plots`` functions return).
    name : str
        Artifact file name such as ``"churn_by_month.png"`` (see :func:`churnlab.tracking.log_figure`).

    Returns
    -------
    str
        ``name``.

    Raises
    ------
    TypeError
        When ``fig`` is neither a Figure nor an Axes.
    """
    figure = fig if hasattr(fig, "savefig") else getattr(fig, "figure", None)
    if figure is None or not hasattr(figure, "savefig"):
        raise TypeError(f"show_figure {name!r}: expected a matplotlib Figure or Axes, got {type(fig).__name__}")
    tracking.log_figure(figure, name)
    _display(figure)
    import matplotlib.pyplot as plt

    plt.close(figure)
    return name


def _display(obj: Any) -> None:
    """Display ``obj`` when running in IPython; do nothing elsewhere (scripts, tests)."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython ships with every notebook kernel
        return
    if get_ipython() is not None:
        display(obj)


# --- findings -------------------------------------------------------------------------------------


def escape(text: Any) -> str:
    r"""Escape a value for a Markdown cell that is also rendered to HTML: it shows as the literal text.

    Markdown punctuation (``* _ [ ] ( ) ` # + - ! | ~ { } $`` and backslash) is backslash-escaped,
    HTML's ``& < > " '`` become entities and line breaks become spaces, so a value cannot start
    emphasis, a link, a heading, math, or an HTML element.

    Examples
    --------
    >>> escape("<script>x</script>")
    '&lt;script&gt;x&lt;/script&gt;'
    >>> escape("*B2C* [x](javascript:y)")
    '\\*B2C\\* \\[x\\]\\(javascript:y\\)'
    """
    flat = re.sub(r"[\r\n]+", " ", str(text))
    return html.escape(_MARKDOWN_SPECIAL.sub(r"\\\1", flat), quote=True)


def format_number(value: Any) -> str:
    """Format a number for people when the template gives no format of its own.

    Integers (and whole floats) with thousands separators, amounts of 1,000 or more as whole
    numbers, others with 3 significant digits; NaN as ``n/a`` and infinities as ``∞``.

    Examples
    --------
    >>> format_number(12345), format_number(0.78834), format_number(1234.5), format_number(float("nan"))
    ('12,345', '0.788', '1,234', 'n/a')
    """
    number = float(value)
    if math.isnan(number):
        return "n/a"
    if math.isinf(number):
        return "∞" if number > 0 else "−∞"
    if isinstance(value, numbers.Integral) or (number.is_integer() and abs(number) < 1e15) or abs(number) >= 1000:
        return f"{number:,.0f}"
    return f"{number:.3g}"


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


class _FindingFormatter(string.Formatter):
    """``str.format`` that formats numbers for people and escapes everything else after formatting."""

    def format_field(self, value: Any, format_spec: str) -> str:
        if _is_number(value):
            number = float(value)
            if math.isnan(number) or math.isinf(number) or not format_spec:
                return format_number(value)
            return format(value, format_spec)
        if value is None or value is pd.NaT:
            return "n/a"
        return escape(format(value, format_spec))


_FORMATTER = _FindingFormatter()


@dataclass(frozen=True)
class Finding:
    """A finding ready to display: Markdown whose every value was formatted and escaped by :func:`finding`."""

    markdown: str

    def __str__(self) -> str:
        return self.markdown

    def __repr__(self) -> str:
        return f"Finding({self.markdown!r})"

    def _repr_markdown_(self) -> str:
        return self.markdown


def finding(template: str, *, prefix: str = "**Finding:** ", **values: Any) -> Finding:
    """Write a finding from a template and computed values; display it with ``display(finding(...))``.

    Parameters
    ----------
    template : str
        Markdown written by the notebook's author, with ``str.format`` fields (``{rate:.1%}``,
        ``{segment}``). Only the template may carry Markdown; values never do.
    prefix : str, default "**Finding:** "
        Put before the sentence ("" for a plain line).
    **values
        The numbers and words of the sentence. A number with a format in the template is formatted
        with it, without one by :func:`format_number`; NaN shows ``n/a``. Any other value (a string from the data
        or a parameter, a date) is converted with its format and then escaped by :func:`escape`.

    Returns
    -------
    Finding
        Renders as Markdown in the notebook and in the report.

    Raises
    ------
    ChurnlabError
        When the template names a value that was not given, or a format does not fit its value.

    Examples
    --------
    >>> str(finding("{segment} churned at {rate:.1%} of {n} customers.", segment="<b>B2C</b>", rate=0.0712, n=1234))
    '**Finding:** &lt;b&gt;B2C&lt;/b&gt; churned at 7.1% of 1,234 customers.'
    """
    try:
        text = _FORMATTER.format(template, **values)
    except KeyError as exc:
        raise ChurnlabError(f"finding: the template names {{{exc.args[0]}}} but no value of that name was given; "
                            f"given: {sorted(values)}") from exc
    except (ValueError, TypeError, IndexError) as exc:
        raise ChurnlabError(f"finding: template {template[:60]!r}: {exc}") from exc
    return Finding(prefix + text)


# --- files ----------------------------------------------------------------------------------------


def _relative_name(name: str | Path) -> Path:
    path = Path(name)
    if not str(name).strip() or path.is_absolute() or ".." in path.parts:
        raise ChurnlabError(f"output file {str(name)!r}: expected a relative file name such as 'at_risk.csv' "
                            "(no absolute path, no '..')")
    return path


def output_path(name: str | Path) -> Path:
    """Return where a notebook writes the file ``name``, creating its folder.

    Parameters
    ----------
    name : str or Path
        A relative file name (``"at_risk.csv"``, ``"lists/red.csv"``).

    Returns
    -------
    Path
        ``$CHURNLAB_RUN_DIR/<name>`` under ``churnlab run`` (the run folder the runner exports to
        the kernel), otherwise ``<project root>/scratch/<name>``: the ``scratch/`` folder is
        git-ignored, so customer data written from JupyterLab never lands in ``notebooks/`` or in git.

    Raises
    ------
    ChurnlabError
        When ``name`` is empty, absolute or climbs out of the folder with ``..``.
    """
    relative = _relative_name(name)
    run_dir = os.environ.get(RUN_DIR_ENV, "").strip()
    base = Path(run_dir) if run_dir else project_root() / SCRATCH_FOLDER
    target = base / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def input_path(name: str | Path) -> Path:
    """Return the file ``name`` an earlier notebook wrote: an absolute path as given, else :func:`output_path`.

    Notebook 02 writes ``risk_scores.csv`` with :func:`output_path`; notebook 03 reads
    ``input_path("risk_scores.csv")``, the same file under ``churnlab run`` and in JupyterLab.
    """
    path = Path(name)
    return path if path.is_absolute() else output_path(path)


def save_list(frame: pd.DataFrame, name: str | Path) -> Path:
    """Write a customer-level table as CSV to :func:`output_path` and log it as a run artifact.

    Lists with customer ids go to the run folder and MLflow, not into the page (OPINIONS.md,
    "Customer ids in reports").

    Parameters
    ----------
    frame : DataFrame
        The list; written without its index, not modified.
    name : str or Path
        File name ending in ``.csv``.

    Returns
    -------
    Path
        The file written.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"save_list {str(name)!r}: expected a DataFrame, got {type(frame).__name__}")
    target = output_path(name)
    frame.to_csv(target, index=False)
    tracking.log_artifact(target)
    return target


def column_summary(frame: pd.DataFrame, *, id_columns: tuple[str, ...] = (CUSTOMER_ID,)) -> pd.DataFrame:
    """Describe a table column by column without showing any row: the aggregate shown instead of a sample.

    Parameters
    ----------
    frame : DataFrame
        Any table (one row per customer for ``customers``).
    id_columns : tuple of str, default ("customer_id",)
        Key columns: only their count of distinct values is shown (never a value). Columns ending
        in ``_id`` are treated the same.

    Returns
    -------
    DataFrame
        One row per column: ``column, dtype, filled`` (share of non-empty cells), ``distinct``
        (distinct non-empty values) and ``range``: ``min – max`` for numbers and dates, the most
        common value and its share for text columns of at most 50 distinct values, else empty.

    Examples
    --------
    >>> df = pd.DataFrame({"customer_id": ["a", "b", "c"], "segment": ["B2B", "B2C", "B2C"], "fee": [10, 20, None]})
    >>> column_summary(df)["range"].tolist()
    ['', 'B2C (67%)', '10 – 20']
    """
    rows = []
    for column in frame.columns:
        values = frame[column]
        filled = values.dropna()
        distinct = int(filled.nunique())
        is_key = column in id_columns or str(column).endswith("_id")
        span = ""
        if not is_key and len(filled):
            if pd.api.types.is_bool_dtype(values):
                span = f"{float(filled.astype(bool).mean()):.0%} true"
            elif pd.api.types.is_numeric_dtype(values):
                span = f"{format_number(filled.min())} – {format_number(filled.max())}"
            elif pd.api.types.is_datetime64_any_dtype(values):
                span = f"{filled.min().date()} – {filled.max().date()}"
            elif distinct <= 50:
                counts = filled.astype(str).value_counts()
                span = f"{counts.index[0]} ({counts.iloc[0] / len(filled):.0%})"
        rows.append({"column": str(column), "dtype": str(values.dtype),
                     "filled": float(len(filled) / len(values)) if len(values) else 0.0,
                     "distinct": distinct, "range": span})
    return pd.DataFrame(rows, columns=["column", "dtype", "filled", "distinct", "range"])


def problem_table(report, *, show_examples: bool = False) -> pd.DataFrame:
    """Tabulate a validation report's problems, without their example keys unless asked.

    Parameters
    ----------
    report : churnlab.schema.ValidationReport
        From :func:`churnlab.schema.validate`.
    show_examples : bool, default False
        Add the ``examples`` column (a few keys of the offending rows: customer ids, for internal use).

    Returns
    -------
    DataFrame
        One row per problem: ``where`` (``table.column`` or ``table``), ``expected``, ``rows``
        [, ``examples``]; empty (same columns) for a valid dataset.
    """
    columns = ["where", "expected", "rows"] + (["examples"] if show_examples else [])
    rows = []
    for problem in report.problems:
        row = {"where": f"{problem.table}.{problem.column}" if problem.column else problem.table,
               "expected": problem.expected, "rows": int(problem.n_rows)}
        if show_examples:
            row["examples"] = ", ".join(problem.examples)
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)
