"""The ibis feature expressions on PySpark (local mode) give the frames the DuckDB engine gives.

Issue 15 item 3: the same expressions run on Spark. Needs ``pyspark`` (the ``spark`` extra) and a Java
runtime (Debian's ``openjdk-17-jre-headless``); skipped with the reason when either is missing.
Kept small: one local core, a world of 200 customers, two cutoffs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest

pytestmark = pytest.mark.slow


def _java_missing() -> str | None:
    """Say why Java cannot run Spark here, or None when ``java -version`` works."""
    java = shutil.which("java") or (os.path.join(os.environ["JAVA_HOME"], "bin", "java")
                                    if os.environ.get("JAVA_HOME") else None)
    if java is None:
        return "Java is not installed (apt-get install openjdk-17-jre-headless)"
    try:
        subprocess.run([java, "-version"], check=True, capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"java -version failed ({exc})"
    return None


@pytest.fixture(scope="module")
def spark():
    pytest.importorskip("pyspark", reason="pyspark is not installed (pip install 'churnlab[spark]')")
    pytest.importorskip("ibis.backends.pyspark", reason="ibis's pyspark backend is not installed")
    why = _java_missing()
    if why:
        pytest.skip(why)
    from pyspark.sql import SparkSession

    # the Python workers must be this interpreter (its packages), not whatever `python3` is on PATH
    saved = os.environ.get("PYSPARK_PYTHON")
    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = (SparkSession.builder.master("local[1]").appName("churnlab-test-features")
               .config("spark.sql.session.timeZone", "UTC").config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "1").config("spark.driver.memory", "1g").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
    if saved is None:
        os.environ.pop("PYSPARK_PYTHON", None)
    else:
        os.environ["PYSPARK_PYTHON"] = saved


def test_features_on_local_spark_are_identical_to_the_duckdb_engine(spark):
    import ibis

    from churnlab.data.synthetic import generate
    from churnlab.features import build_features
    from churnlab.labels import make_label_times

    world, _ = generate(200, seed=5)
    label_times = make_label_times(world, ["2024-06-01", "2024-09-01"])
    on_duckdb = build_features(world, label_times)
    on_spark = build_features(world, label_times, backend=ibis.pyspark.connect(spark))
    # every family of the world is there (not an empty match); rows are the label rows of both cutoffs
    # (241 for this world: more than its 200 customers)
    assert len(on_duckdb) == len(label_times.table) > 200
    assert {"sessions_30d", "tickets_financial_30d", "email_open_rate_30d", "push_open_rate_30d",
            "days_overdue", "days_since_last_contact", "last_nps", "activated_14d"} <= set(on_spark.columns)
    assert on_spark["days_since_last_session"].notna().all()
    # no tolerance: the same counts, and days-since computed as doubles on both engines
    pd.testing.assert_frame_equal(on_spark, on_duckdb, check_exact=True)


@pytest.fixture(scope="module")
def parquet_world(tmp_path_factory):
    """A 300-customer world written to Parquet, one file per table (as ``Dataset.save`` lays it out)."""
    from churnlab.data.synthetic import generate

    world, _ = generate(300, seed=7)
    folder = tmp_path_factory.mktemp("parquet_world")
    for name, frame in world.tables.items():
        # Spark reads no nanosecond Parquet timestamps (PARQUET_TYPE_ILLEGAL): write microseconds, which both
        # engines then read from the same files
        frame.to_parquet(folder / f"{name}.parquet", index=False, coerce_timestamps="us",
                         allow_truncated_timestamps=True)
    return world, folder


def test_label_times_and_features_of_parquet_read_in_spark_equal_the_duckdb_engines(spark, parquet_world):
    import ibis

    from churnlab.features import EVENT_TABLES, build_features
    from churnlab.labels import make_label_times, monthly_cutoffs
    from churnlab.schema import Dataset

    world, folder = parquet_world
    event_tables = [n for n in EVENT_TABLES if n in world.tables]
    customers = pd.read_parquet(folder / "customers.parquet")
    # the DuckDB engine reads the event tables where they lie (Parquet paths)
    on_disk = Dataset(world.name, {"customers": customers, "subscriptions": pd.read_parquet(folder / "subscriptions.parquet"),
                                   **{n: folder / f"{n}.parquet" for n in event_tables}},
                      world.as_of, world.source, metadata=world.metadata)
    # the same files read by Spark, by each route a user has: a table of the session, ibis's read_parquet,
    # and a plain path (read by the backend of the other tables); only customers stays pandas
    con = ibis.pyspark.connect(spark)
    spark.read.parquet(str(folder / "events.parquet")).createOrReplaceTempView("churnlab_test_events")
    in_spark_tables = {"customers": customers, "events": con.table("churnlab_test_events"),
                       "subscriptions": con.read_parquet(str(folder / "subscriptions.parquet")),
                       "payments": folder / "payments.parquet"}
    for n in event_tables:
        in_spark_tables.setdefault(n, con.read_parquet(str(folder / f"{n}.parquet")))
    in_spark = Dataset(world.name, in_spark_tables, world.as_of, world.source, metadata=world.metadata)

    # the Dataset answers about a Spark table through Spark: counts, one customer's rows
    assert in_spark.rows("events") == on_disk.rows("events") == len(world["events"])
    one = str(customers["customer_id"].iloc[0])
    by_spark = in_spark.frame("events", customer_ids=[one]).sort_values("timestamp").reset_index(drop=True)
    by_duckdb = on_disk.frame("events", customer_ids=[one]).sort_values("timestamp").reset_index(drop=True)
    assert len(by_spark) > 0
    pd.testing.assert_frame_equal(by_spark, by_duckdb, check_dtype=False)
    assert "events=" in repr(in_spark)

    cutoffs = ["2024-06-01", "2024-09-01"]
    assert monthly_cutoffs(in_spark) == monthly_cutoffs(on_disk)
    # inactivity: the window join runs in Spark; the label rows equal DuckDB's, row for row
    inactive_spark = make_label_times(in_spark, cutoffs, definition="inactivity")
    inactive_duckdb = make_label_times(on_disk, cutoffs, definition="inactivity")
    pd.testing.assert_frame_equal(inactive_spark.table, inactive_duckdb.table, check_exact=True)
    # both labels occur (not a trivially all-False or all-True match)
    assert 0 < inactive_duckdb.table["label"].mean() < 1
    # subscription: the small subscriptions table comes back from Spark and is labelled in pandas
    subs_spark = make_label_times(in_spark, cutoffs, definition="subscription")
    subs_duckdb = make_label_times(on_disk, cutoffs, definition="subscription")
    pd.testing.assert_frame_equal(subs_spark.table, subs_duckdb.table, check_exact=True)
    assert subs_duckdb.table["label"].any()

    # features: Spark expressions over the Spark tables against the DuckDB SQL over the Parquet paths
    on_spark = build_features(in_spark, subs_spark)
    on_duckdb = build_features(on_disk, subs_duckdb)
    assert len(on_spark) == len(subs_duckdb.table)
    assert {"sessions_30d", "email_open_rate_30d", "days_overdue", "last_nps", "activated_14d"} <= set(on_spark.columns)
    pd.testing.assert_frame_equal(on_spark, on_duckdb, check_exact=True)
