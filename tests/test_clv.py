"""BG/NBD + Gamma-Gamma on the CDNOW 1/10 sample reproduce the published estimates."""

from pathlib import Path

import pandas as pd
import pytest

from churnlab.errors import AnalysisError
from churnlab.patterns.clv import rfm_summary, transaction_clv
from churnlab.schema import Dataset

lifetimes = pytest.importorskip("lifetimes")


@pytest.fixture(scope="module")
def cdnow_sample():
    path = Path(lifetimes.__file__).parent / "datasets" / "CDNOW_sample.txt"
    raw = pd.read_csv(path, sep=r"\s+", header=None, names=["id", "sample_id", "date", "cds", "amount"],
                      dtype={"id": str, "sample_id": str, "date": str})
    events = pd.DataFrame({"customer_id": raw["sample_id"].astype("string"),
                           "timestamp": pd.to_datetime(raw["date"], format="%Y%m%d"),
                           "event_type": pd.Series("purchase", index=raw.index, dtype="string"),
                           "amount": raw["amount"].astype(float)})
    customers = events.groupby("customer_id", as_index=False)["timestamp"].min().rename(columns={"timestamp": "signup_at"})
    return Dataset("cdnow_sample", {"customers": customers, "events": events}, as_of="1998-06-30", source="Lifetimes")


# the calibration period of the papers: 39 weeks, purchases up to and including 1997-09-30
CALIBRATION_END = "1997-09-30 23:59:59"


def test_summary_from_transactions_matches_the_summary_lifetimes_ships(cdnow_sample):
    from lifetimes.datasets import load_cdnow_summary_data_with_monetary_value

    ours = rfm_summary(cdnow_sample["events"], CALIBRATION_END)
    ref = load_cdnow_summary_data_with_monetary_value()
    ours.index = ours["customer_id"].astype(int)
    joined = ours.join(ref, rsuffix="_ref")
    assert len(joined) == len(ref) == 2357
    assert (joined["frequency"] == joined["frequency_ref"]).all()
    # the shipped file rounds to 2 decimals: half a unit of the last digit
    for col in ("recency", "T", "monetary_value"):
        assert (joined[col] - joined[f"{col}_ref"]).abs().max() <= 0.005 + 1e-9


def test_fits_reproduce_the_published_cdnow_estimates(cdnow_sample):
    fit = transaction_clv(cdnow_sample, CALIBRATION_END)
    est = fit.params.set_index("parameter")["estimate"]
    # Fader, Hardie & Lee (2005), table 1: r 0.243, alpha 4.414, a 0.793, b 2.426 (half the last digit: 0.0005)
    for name, value in {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}.items():
        assert est[name] == pytest.approx(value, abs=0.0005)
    # Fader & Hardie (2013) note 025: p 6.25, q 3.74, gamma 15.44 (half the last digit: 0.005)
    for name, value in {"p": 6.25, "q": 3.74, "v": 15.44}.items():
        assert est[name] == pytest.approx(value, abs=0.005)
    c = fit.customers
    assert len(c) == 2357 and (c["clv"] >= 0).all() and c["p_alive"].between(0, 1).all()
    # a customer with no repeat purchase is worth less than one with many recent ones
    assert c.loc[c["frequency"] == 0, "clv"].mean() < c.loc[c["frequency"] >= 5, "clv"].mean()
    assert "CLV" in repr(fit)


def test_a_log_without_repeat_purchases_cannot_be_valued():
    ev = pd.DataFrame({"customer_id": ["a", "b"], "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02"]),
                       "event_type": "purchase", "amount": [5.0, 6.0]})
    ds = Dataset("x", {"customers": ev.rename(columns={"timestamp": "signup_at"})[["customer_id", "signup_at"]],
                       "events": ev}, as_of="2024-03-01", source="test")
    with pytest.raises(AnalysisError, match="repeat purchase"):
        transaction_clv(ds)
