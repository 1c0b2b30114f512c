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
