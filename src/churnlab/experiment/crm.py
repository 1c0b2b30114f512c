"""What a campaign hands to the CRM and what comes back: the canonical assignments and the offer files.

The plan writes one offer file per offer (the customers the CRM sends it to) and one do-not-contact file
(the campaign's holdout and the programme's persistent holdout, marked with why). A holdout customer never
appears in an offer file: :func:`write_offer_files` checks it before writing anything. The assignments table
(``experiment_id, customer_id, arm, assigned_at``, holdout rows included) is the canonical record the analysis
reads back, from the dataset (``assignments`` table) or from the plan run's file.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from churnlab import config as C
from churnlab.errors import AnalysisError, SchemaError
from churnlab.experiment.assign import HOLDOUT
from churnlab.schema import Dataset, require_columns

__all__ = [
    "ASSIGNMENT_COLUMNS",
    "ASSIGNMENTS_FILE",
    "DO_NOT_CONTACT_FILE",
    "assignments_table",
    "read_assignments",
    "offer_list",
    "write_offer_files",
]

ASSIGNMENT_COLUMNS = ("experiment_id", C.CUSTOMER_ID, "arm", "assigned_at")
#: File names the plan notebook writes in its run folder.
ASSIGNMENTS_FILE = "assignments.csv"
DO_NOT_CONTACT_FILE = "do_not_contact.csv"


def assignments_table(assignment: pd.DataFrame, experiment_id: str, assigned_at, *,
                      keep: Sequence[str] = ("risk_score", "risk_decile")) -> pd.DataFrame:
    """Return the canonical ``assignments`` rows of one experiment.

    Parameters
    ----------
    assignment : DataFrame
        ``customer_id, arm`` (from :func:`churnlab.experiment.assign`), holdout rows included.
    experiment_id : str
        The experiment.
    assigned_at : timestamp
        When the customers were assigned (the campaign date).
    keep : sequence of str
        Further columns of ``assignment`` to carry when present (the audience's risk, for effects by decile).

    Returns
    -------
    DataFrame
        ``experiment_id, customer_id, arm, assigned_at`` (strings and a datetime) and the ``keep`` columns
        present, one row per customer.

    Raises
    ------
    SchemaError
        When a column is missing, an arm is missing or a customer repeats.
    """
    require_columns(assignment, [C.CUSTOMER_ID, "arm"], table="assignment")
    if assignment["arm"].isna().any():
        eg = assignment.loc[assignment["arm"].isna(), C.CUSTOMER_ID].astype(str).head(3).tolist()
        raise SchemaError(f"assignment.arm: expected an arm for every customer; missing for e.g. {eg}")
    ids = assignment[C.CUSTOMER_ID].astype(str)
    if ids.duplicated().any():
        raise SchemaError(f"assignment.customer_id: expected one row per customer; {ids[ids.duplicated()].iloc[0]} "
                          "repeats")
    out = pd.DataFrame({
        "experiment_id": pd.Series([str(experiment_id)] * len(ids), dtype="string"),
        C.CUSTOMER_ID: pd.Series(ids.to_numpy(), dtype="string"),
        "arm": pd.Series(assignment["arm"].astype(str).to_numpy(), dtype="string"),
        "assigned_at": pd.Series([pd.Timestamp(assigned_at)] * len(ids), dtype="datetime64[ns]"),
    })
    for column in keep:
        if column in assignment.columns:
            out[column] = assignment[column].to_numpy()
    return out


def read_assignments(source: Dataset | str | Path | pd.DataFrame, experiment_id: str | None = None) -> pd.DataFrame:
    """Read the assignments of one experiment from a dataset's ``assignments`` table, a file or a frame.

    Parameters
    ----------
    source : Dataset, path or DataFrame
        A dataset with an ``assignments`` table; a CSV or Parquet file (the plan run's ``assignments.csv``,
        resolved against the working directory then the project root); or a frame.
    experiment_id : str, optional
        Keep only this experiment's rows; needed when the source holds several experiments.

    Returns
    -------
    DataFrame
        ``experiment_id, customer_id, arm, assigned_at`` and any further columns, one row per customer.

    Raises
    ------
    SchemaError
        When a column is missing, ``assigned_at`` does not parse, an arm is missing or a customer repeats.
    AnalysisError
        When the experiment has no rows or several experiments are mixed without an ``experiment_id``.
    """
    if isinstance(source, Dataset):
        source.require("assignments", by="read_assignments")
        table = source["assignments"].copy()
    elif isinstance(source, pd.DataFrame):
        table = source.copy()
    else:
        from churnlab.experiment.plan import resolve_path

        path = resolve_path(source)
        table = (pd.read_parquet(path) if path.suffix.lower() in (".parquet", ".pq")
                 else pd.read_csv(path, dtype={C.CUSTOMER_ID: str, "experiment_id": str, "arm": str}))
    require_columns(table, list(ASSIGNMENT_COLUMNS), table="assignments")
    stamps = pd.to_datetime(table["assigned_at"], errors="coerce")
    if stamps.isna().any():
        raise SchemaError(f"assignments.assigned_at: expected a timestamp in every row; "
                          f"{int(stamps.isna().sum())} missing or unparseable")
    table["assigned_at"] = stamps.astype("datetime64[ns]")
    table["experiment_id"] = table["experiment_id"].astype(str)
    table[C.CUSTOMER_ID] = table[C.CUSTOMER_ID].astype(str)
    found = sorted(pd.unique(table["experiment_id"]))
    if experiment_id is not None:
        table = table[table["experiment_id"] == str(experiment_id)]
        if table.empty:
            raise AnalysisError(f"assignments.experiment_id: no rows for {experiment_id!r}; found {found}")
    elif len(found) > 1:
        raise AnalysisError(f"assignments.experiment_id: {len(found)} experiments {found[:5]}; name the one to read")
    if table["arm"].isna().any():
        n = int(table["arm"].isna().sum())
        raise SchemaError(f"assignments.arm: expected an arm for every customer; {n} rows have none")
    dup = table[C.CUSTOMER_ID].duplicated()
    if dup.any():
        raise SchemaError(f"assignments.customer_id: expected one row per customer and experiment; "
                          f"{table.loc[dup, C.CUSTOMER_ID].iloc[0]} repeats")
    return table.reset_index(drop=True)


def offer_list(assignment: pd.DataFrame, *, holdout: str = HOLDOUT,
               never_offer: Iterable[str] = ()) -> pd.DataFrame:
    """Return the customers to send an offer to: every treated row, never a holdout customer.

    Parameters
    ----------
    assignment : DataFrame
        ``customer_id, arm[, experiment_id, assigned_at]``.
    holdout : str
        Name of the holdout arm.
    never_offer : iterable of str
        Customers who must get no offer whatever their arm (the programme's persistent holdout).

    Returns
    -------
    DataFrame
        ``customer_id, offer[, experiment_id, send_on]`` sorted by offer then customer.

    Raises
    ------
    AnalysisError
        When a customer of ``never_offer`` has a treated arm (the holdout was not removed before the split).
    """
    require_columns(assignment, [C.CUSTOMER_ID, "arm"], table="assignment")
    treated = assignment[assignment["arm"].astype(str) != holdout]
    banned = set(map(str, never_offer))
    leak = treated[C.CUSTOMER_ID].astype(str).isin(banned)
    if leak.any():
        raise AnalysisError(f"offer list: {int(leak.sum())} customers of the persistent holdout have an offer "
                            f"(e.g. {treated.loc[leak, C.CUSTOMER_ID].astype(str).head(3).tolist()}); remove the "
                            "programme holdout before assigning")
    out = pd.DataFrame({C.CUSTOMER_ID: treated[C.CUSTOMER_ID].astype(str).to_numpy(),
                        "offer": treated["arm"].astype(str).to_numpy()})
    if "experiment_id" in treated.columns:
        out["experiment_id"] = treated["experiment_id"].astype(str).to_numpy()
    if "assigned_at" in treated.columns:
        out["send_on"] = pd.to_datetime(treated["assigned_at"]).dt.date.astype(str).to_numpy()
    return out.sort_values(["offer", C.CUSTOMER_ID], kind="mergesort").reset_index(drop=True)


def write_offer_files(
    assignment: pd.DataFrame,
    folder: str | Path = ".",
    *,
    holdout: str = HOLDOUT,
    program_holdout: Iterable[str] = (),
    prefix: str = "offers_",
) -> dict[str, Path]:
    """Write the CRM-ready files: one CSV per offer and the do-not-contact list.

    Parameters
    ----------
    assignment : DataFrame
        ``customer_id, arm[, experiment_id, assigned_at]`` of one campaign, holdout rows included.
    folder : path
        Where to write (created when absent).
    holdout : str
        Name of the campaign's holdout arm.
    program_holdout : iterable of str
        Customers of the programme's persistent holdout (kept out of every offer); listed as do-not-contact.
    prefix : str
        Offer files are ``<prefix><offer>.csv``.

    Returns
    -------
    dict of str to Path
        Offer name (and ``"do_not_contact"``) to the file written.

    Raises
    ------
    AnalysisError
        From :func:`offer_list`, or when an offer file would hold a holdout customer (checked on the rows
        about to be written, before any file is written).
    """
    offers = offer_list(assignment, holdout=holdout, never_offer=program_holdout)
    held = assignment.loc[assignment["arm"].astype(str) == holdout, C.CUSTOMER_ID].astype(str)
    program = pd.Index(sorted(set(map(str, program_holdout))))
    dnc = pd.concat([
        pd.DataFrame({C.CUSTOMER_ID: held.to_numpy(), "reason": "campaign holdout: no offer, measure only"}),
        pd.DataFrame({C.CUSTOMER_ID: program.to_numpy(), "reason": "programme holdout: no retention offer"}),
    ], ignore_index=True).drop_duplicates(C.CUSTOMER_ID)
    if offers[C.CUSTOMER_ID].isin(dnc[C.CUSTOMER_ID]).any():
        raise AnalysisError("offer files: a do-not-contact customer is in an offer file; nothing was written")
    out_dir = Path(folder)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for offer, part in offers.groupby("offer", sort=True):
        path = out_dir / f"{prefix}{offer}.csv"
        part.to_csv(path, index=False)
        written[str(offer)] = path
    path = out_dir / DO_NOT_CONTACT_FILE
    dnc.sort_values(C.CUSTOMER_ID, kind="mergesort").to_csv(path, index=False)
    written["do_not_contact"] = path
    return written
