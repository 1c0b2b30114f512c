"""The findings of validation and the column-level checks behind them.

:class:`Problem` is one finding on one line (table, column, what was expected, how many rows and a
few of their keys); :class:`ValidationReport` collects them. The checks here look at one column
against its :class:`~churnlab.schema.Column` declaration and the dataset's
:class:`~churnlab.vocabulary.Vocabulary`; :func:`churnlab.validation.validate` runs them over every
table and adds the checks across tables; :mod:`churnlab.validation_sql` states the same checks in SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd
from pandas.api import types as ptypes

from churnlab import config as C
from churnlab.errors import SchemaError
from churnlab.vocabulary import Vocabulary

if TYPE_CHECKING:  # pragma: no cover
    from churnlab.schema import Column

__all__ = ["Problem", "ValidationReport", "kind_of", "compatible", "check_column", "check_survey_scores", "row_keys",
           "examples", "shown_values", "value_bounds", "range_found"]


@dataclass(frozen=True)
class Problem:
    """One validation finding: where, what was expected, how many rows and a few of their keys."""

    table: str
    column: str | None
    expected: str
    n_rows: int = 0
    examples: tuple[str, ...] = ()

    def __str__(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        rows = f"; {self.n_rows} rows" if self.n_rows else ""
        eg = f", e.g. {', '.join(self.examples)}" if self.examples else ""
        return f"{where}: expected {self.expected}{rows}{eg}"


@dataclass(frozen=True)
class ValidationReport:
    """All problems found in a dataset; empty when it is valid."""

    dataset: str
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def __str__(self) -> str:
        if self.ok:
            return f"{self.dataset}: valid"
        lines = [f"{self.dataset}: {len(self.problems)} problem(s)"]
        return "\n".join(lines + [f"  {p}" for p in self.problems])

    def raise_if_failed(self) -> None:
        """Raise :class:`SchemaError` listing every problem, one per line."""
        if not self.ok:
            raise SchemaError(str(self))


def kind_of(s: pd.Series) -> str:
    """Dtype family of a column, as named in :data:`KINDS` (``other`` when none fits)."""
    if ptypes.is_bool_dtype(s.dtype):
        return "bool"
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return "datetime-tz"
    if ptypes.is_datetime64_any_dtype(s.dtype):
        return "datetime"
    if ptypes.is_integer_dtype(s.dtype):
        return "int"
    if ptypes.is_float_dtype(s.dtype):
        return "float"
    if ptypes.is_string_dtype(s.dtype):
        return "string"
    return "other"


def compatible(actual: str, expected: str) -> bool:
    """Whether a column of dtype family ``actual`` satisfies a declared ``expected`` family."""
    if actual == expected:
        return True
    return expected == "float" and actual == "int"


def examples(keys: pd.Series, limit: int = 3) -> tuple[str, ...]:
    """Return the first ``limit`` distinct keys, as text."""
    return tuple(str(k) for k in pd.unique(keys.astype(str))[:limit])


def row_keys(df: pd.DataFrame) -> pd.Series:
    """Each row's customer id, or ``row N`` (1-based, as in the file) where the id is missing."""
    rows = pd.Series([f"row {i}" for i in range(1, len(df) + 1)], index=df.index, dtype=object)
    if C.CUSTOMER_ID not in df.columns:
        return rows
    ids = df[C.CUSTOMER_ID]
    return ids.astype(object).where(ids.notna(), rows)


def shown_values(values) -> str:
    """Show a few distinct values as text: strings quoted (``'abc'``), others as printed."""
    return ", ".join(repr(v) if isinstance(v, str) else str(v) for v in values)


def _shown(values: pd.Series, limit: int = 3) -> str:
    return shown_values(pd.unique(values.dropna())[:limit])


def _dtype_problem(name: str, col: Column, s: pd.Series, kind: str, keys: pd.Series) -> Problem:
    """Describe a column of the wrong dtype family, with the values that show it."""
    if kind == "datetime-tz":
        found = "datetime with a timezone (expected timezone-naive UTC)"
        return Problem(name, col.name, f"dtype {col.kind}, found {found}")
    if col.kind in ("float", "int") and kind in ("string", "other"):
        numeric = pd.to_numeric(s, errors="coerce")
        text = numeric.isna() & s.notna()
        if text.any():
            return Problem(name, col.name, f"numbers ({col.kind}), found text {_shown(s[text])}",
                           int(text.sum()), examples(keys[text]))
    if col.kind == "datetime" and kind in ("string", "other"):
        zones = {str(getattr(v, "tzinfo", None)) for v in s.dropna().iloc[:1000] if hasattr(v, "tzinfo")}
        if zones:
            return Problem(name, col.name, "timezone-naive UTC datetimes, found timezones "
                           f"({', '.join(sorted(zones)[:3])})")
    found = "datetime" if kind == "datetime" else str(s.dtype)
    sample = _shown(s)
    shown = f"dtype {col.kind}, found {found}" + (f" (values {sample})" if sample else "")
    if col.name == "churned":
        shown += "; a files config maps a text flag with churn: {column: ..., values: yes/no}"
    return Problem(name, col.name, shown)


def value_bounds(col: Column, vocabulary: Vocabulary) -> tuple[float | None, float | None, str]:
    """Return the inclusive bounds of a column's values and how a problem states them (``values >= 0``)."""
    if col.scale is not None:
        low, high = vocabulary.get(col.scale)
        return low, high, f"values on the {col.scale.replace('_', ' ')} {low:g}-{high:g}"
    if col.min is not None and col.max is not None:
        return col.min, col.max, f"values between {col.min:g} and {col.max:g}"
    if col.min is not None:
        return col.min, None, f"values >= {col.min:g}"
    if col.max is not None:
        return None, col.max, f"values <= {col.max:g}"
    return None, None, ""


def range_found(low_found, high_found) -> str:
    """`` (found 3)`` or `` (found -1 to 12)``: the offending values' span, for an out-of-range problem."""
    return f" (found {low_found:g}" + (f" to {high_found:g})" if high_found != low_found else ")")


def _out_of_range(name: str, column: str, s: pd.Series, keys: pd.Series, low, high, expected: str) -> list[Problem]:
    bad = pd.Series(False, index=s.index)
    if low is not None:
        bad |= s < low
    if high is not None:
        bad |= s > high
    bad = bad.fillna(False).astype(bool)
    if not bad.any():
        return []
    found = range_found(s[bad].min(), s[bad].max())
    return [Problem(name, column, expected + found, int(bad.sum()), examples(keys[bad]))]


def check_survey_scores(df: pd.DataFrame, keys: pd.Series, vocabulary: Vocabulary) -> list[Problem]:
    """NPS answers are 0-10; CSAT answers lie on the dataset's CSAT scale (OPINIONS.md, "Value ranges")."""
    if not {"kind", "score"} <= set(df.columns) or kind_of(df["score"]) not in ("float", "int"):
        return []
    low, high = vocabulary.get("csat_scale")
    problems = []
    for kind, lo, hi, expected in [
        ("nps", 0.0, 10.0, "NPS scores between 0 and 10"),
        ("csat", low, high, f"CSAT scores on the csat scale {low:g}-{high:g}"),
    ]:
        rows = (df["kind"] == kind).fillna(False).astype(bool)
        scores, where = df.loc[rows, "score"], f"{expected} where kind is {kind}"
        problems.extend(_out_of_range("surveys", "score", scores, keys[rows], lo, hi, where))
    return problems


def check_column(
    table: str, col: Column, s: pd.Series, keys: pd.Series, as_of: pd.Timestamp, vocabulary: Vocabulary
) -> list[Problem]:
    """Check one present column: dtype family, missing values, allowed values, value range, ``as_of``.

    Parameters
    ----------
    table : str
        The table's canonical name (for the messages).
    col : Column
        The declaration the column must satisfy.
    s : Series
        The column.
    keys : Series
        Each row's key for the examples (:func:`row_keys`).
    as_of : Timestamp
        Nothing may be stamped later.
    vocabulary : Vocabulary
        The dataset's vocabulary (allowed values of ``col.vocabulary``, the scale of ``col.scale``).

    Returns
    -------
    list of Problem
        Empty when the column is fine; a wrong dtype is the only problem reported for its column.
    """
    kind = kind_of(s)
    if not compatible(kind, col.kind):
        return [_dtype_problem(table, col, s, kind, keys)]
    problems: list[Problem] = []
    null = s.isna()
    if not col.nullable and null.any():
        problems.append(Problem(table, col.name, "no missing values", int(null.sum()), examples(keys[null])))
    allowed = col.allowed if col.vocabulary is None else vocabulary.get(col.vocabulary)
    if allowed is not None:
        bad = ~null & ~s.isin(allowed)
        if bad.any():
            hint = f"; declare it under vocabulary: {col.vocabulary}" if col.vocabulary else ""
            found = ", ".join(map(str, pd.unique(s[bad])[:3]))
            problems.append(
                Problem(table, col.name, f"one of {list(allowed)} (found {found}{hint})", int(bad.sum()),
                        examples(keys[bad]))
            )
    low, high, expected = value_bounds(col, vocabulary)
    if expected:
        problems.extend(_out_of_range(table, col.name, s, keys, low, high, expected))
    if col.kind == "datetime" and not col.scheduled:
        late = s > as_of
        if late.any():
            problems.append(
                Problem(table, col.name, f"nothing after as_of {as_of.date()}", int(late.sum()), examples(keys[late]))
            )
    return problems
