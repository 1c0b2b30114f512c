"""Validation of a :class:`~churnlab.schema.Dataset` against the canonical schemas.

:func:`validate` reports every problem at once, one line each, naming the table, the column, what was
expected and a few offending keys; it never coerces. Tables held in pandas are checked here; tables
that stay where they lie (Parquet paths, DuckDB relations) are checked by the same rules in DuckDB SQL
(:mod:`churnlab.validation_sql`), so the same data gives the same problems, counts and examples
whichever way it is held, and a lazy table is never loaded.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from churnlab import config as C
from churnlab.checks import Problem, ValidationReport, check_column, check_survey_scores, examples, kind_of, row_keys
from churnlab.engine import is_lazy
from churnlab.schema import SCHEMAS, Dataset
from churnlab.vocabulary import Vocabulary

__all__ = ["validate", "Problem", "ValidationReport", "check_table", "check_against_customers"]


def check_table(name: str, df: pd.DataFrame, as_of: pd.Timestamp,
                vocabulary: Vocabulary | None = None) -> list[Problem]:
    """Check one in-memory table against its schema: columns, dtypes, missing and allowed values, ranges, keys.

    Parameters
    ----------
    name : str
        Canonical table name (a key of :data:`~churnlab.schema.SCHEMAS`).
    df : DataFrame
        The table.
    as_of : Timestamp
        Nothing may be stamped after it.
    vocabulary : Vocabulary, optional
        The dataset's vocabulary (default: the synthetic world's).

    Returns
    -------
    list of Problem
    """
    schema = SCHEMAS[name]
    vocabulary = vocabulary or Vocabulary()
    if len(df) == 0:
        return [Problem(name, None, "at least one row; the table is empty")]
    problems: list[Problem] = []
    keys = row_keys(df)
    for col in schema.columns:
        if col.name in df.columns:
            problems.extend(check_column(name, col, df[col.name], keys, as_of, vocabulary))
        elif col.required:
            problems.append(Problem(name, col.name, f"a column of {col.kind} values; it is missing"))
    if name == "surveys":
        problems.extend(check_survey_scores(df, keys, vocabulary))
    if schema.key and all(k in df.columns for k in schema.key):
        dup = df.duplicated(list(schema.key), keep=False)
        if dup.any():
            dup_keys = df.loc[dup, list(schema.key)].astype(str).agg("/".join, axis=1)
            key = "/".join(schema.key)
            problems.append(Problem(name, key, "unique key values", int(dup.sum()), examples(dup_keys)))
    return problems


def check_against_customers(name: str, df: pd.DataFrame, customers: pd.DataFrame) -> list[Problem]:
    """Check an in-memory table's customer ids are known to ``customers`` and its activity follows their signup."""
    schema = SCHEMAS[name]
    if C.CUSTOMER_ID not in df.columns or not len(df):
        return []
    signup = customers.drop_duplicates(C.CUSTOMER_ID).set_index(C.CUSTOMER_ID)[C.SIGNUP_AT]
    their_signup = df[C.CUSTOMER_ID].map(signup)
    problems = []
    unknown = their_signup.isna() & df[C.CUSTOMER_ID].notna()
    if name != "funnel" and unknown.any():
        problems.append(Problem(name, C.CUSTOMER_ID, "ids present in customers", int(unknown.sum()),
                                examples(df.loc[unknown, C.CUSTOMER_ID])))
    for col in schema.activity:
        if col in df.columns and kind_of(df[col]) == "datetime":
            early = df[col] < their_signup
            if early.any():
                problems.append(Problem(name, col, "no activity before the customer's signup_at", int(early.sum()),
                                        examples(df.loc[early, C.CUSTOMER_ID])))
    return problems


def validate(dataset: Dataset, *, needs: Sequence[str] = ()) -> ValidationReport:
    """Check every table of ``dataset`` against its canonical schema and report all problems.

    Checks: required columns present, dtype families, missing values in non-nullable columns,
    allowed values, key uniqueness, timestamps not after ``as_of``, activity not before the
    customer's signup, customer ids known to ``customers``, survey score ranges, and that tables in
    ``needs`` exist. Lazy tables (Parquet paths, DuckDB relations) are checked in DuckDB SQL with
    the same rules and messages (:mod:`churnlab.validation_sql`), never loaded.

    Parameters
    ----------
    dataset : Dataset
        The dataset to check.
    needs : sequence of str
        Tables the caller needs; each missing one is a problem.

    Returns
    -------
    ValidationReport
        ``report.ok`` is True when nothing was found; ``str(report)`` lists one problem per line.
    """
    from churnlab.validation_sql import LazyChecks

    problems: list[Problem] = []
    for t in needs:
        if t not in dataset.tables:
            problems.append(
                Problem(t, None, f"table {t!r} to be provided; the dataset has {', '.join(sorted(dataset.tables))}")
            )
    if "customers" not in dataset.tables:
        problems.append(Problem("customers", None, "a customers table; every dataset needs one"))
    vocabulary = dataset.vocabularies
    if dataset.kind == "snapshot" and "customers" in dataset.tables and "churned" not in dataset["customers"].columns:
        problems.append(Problem("customers", "churned", "a churn flag in a snapshot dataset; it is missing "
                                "(a files config declares it with churn: {column: ...})"))
    lazy = LazyChecks(dataset.as_of, vocabulary, relations=[t for t in dataset.tables.values() if is_lazy(t)])
    for name, table in dataset.tables.items():
        if is_lazy(table):
            problems.extend(lazy.check_table(name, table))
        else:
            problems.extend(check_table(name, table, dataset.as_of, vocabulary))
    customers = dataset.tables.get("customers")
    if (
        isinstance(customers, pd.DataFrame)
        and {C.CUSTOMER_ID, C.SIGNUP_AT} <= set(customers.columns)
        and (kind_of(customers[C.SIGNUP_AT]) == "datetime")
    ):
        for name, table in dataset.tables.items():
            if name == "customers":
                continue
            if is_lazy(table):
                problems.extend(lazy.check_against_customers(name, table, customers))
            else:
                problems.extend(check_against_customers(name, table, customers))
    return ValidationReport(dataset.name, tuple(problems))
