"""XGBoost's own Spark estimator (``xgboost.spark``) on local Spark: the scale-out path for training.

Skipped, with the reason, when pyspark or Java is missing (CI installs both when it can: ``.ci/run``).
"""

from __future__ import annotations

import shutil
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

pytestmark = pytest.mark.slow

#: The same booster settings in and out of Spark: small and quick.
PARAMS = {"n_estimators": 60, "max_depth": 3, "learning_rate": 0.1, "subsample": 0.8, "min_child_weight": 5}


def _java_missing() -> bool:
    import os

    home = os.environ.get("JAVA_HOME")
    return shutil.which("java") is None and not (home and shutil.which("java", path=os.path.join(home, "bin")))


@pytest.fixture(scope="module")
def spark():
    pytest.importorskip("pyspark", reason="pyspark is not installed (pip install churnlab[spark])")
    pytest.importorskip("xgboost.spark", reason="xgboost.spark needs pyspark")
    if _java_missing():
        pytest.skip("Java is missing: Spark needs a JRE (apt-get install openjdk-17-jre-headless)")
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[1]").appName("churnlab-test-spark")
               .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "1")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true")
               .config("spark.driver.memory", "1g"))
    with pytest.MonkeyPatch.context() as env:
        # the Python workers run this interpreter (with xgboost and pandas), not the first python3 on PATH
        env.setenv("PYSPARK_PYTHON", sys.executable)
        session = session.getOrCreate()
        yield session
        session.stop()


def _churn_rows(n: int, seed: int) -> pd.DataFrame:
    """Churn driven by recency and usage, plus a noise column (the toy world of tests/test_model.py)."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"days_since_last_session": rng.exponential(10, n), "sessions_30d": rng.poisson(8, n) * 1.0,
                      "noise": rng.normal(size=n)})
    logit = -2 + 0.15 * X["days_since_last_session"] - 0.1 * X["sessions_30d"]
    return X.assign(label=(rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int))


def test_sparks_xgboost_estimator_ranks_churners_like_in_process_xgboost_on_the_same_rows(spark):
    import xgboost
    from xgboost.spark import SparkXGBClassifier

    train, test = _churn_rows(2000, seed=0), _churn_rows(1000, seed=1)
    features = ["days_since_last_session", "sessions_30d", "noise"]
    model = SparkXGBClassifier(features_col=features, label_col="label", num_workers=1, random_state=0,
                               **PARAMS).fit(spark.createDataFrame(train))
    scored = model.transform(spark.createDataFrame(test.reset_index(names="row"))).select(
        "row", "label", "probability").toPandas().sort_values("row")
    p_spark = np.array([v[1] for v in scored["probability"]])
    assert len(p_spark) == len(test) and np.all((p_spark > 0) & (p_spark < 1))
    auc_spark = roc_auc_score(scored["label"], p_spark)

    local = xgboost.XGBClassifier(n_jobs=1, random_state=0, tree_method="hist", **PARAMS).fit(train[features],
                                                                                              train["label"])
    auc_local = roc_auc_score(test["label"], local.predict_proba(test[features])[:, 1])
    # Close, not equal: Spark hands the booster its rows in its own partition order, so subsample=0.8 draws
    # other rows and the trees differ. Measured when this test was written, the in-process model's AUC on
    # these rows spans 0.0027 over seeds 0-4 and 0.0057 over five shuffles of the training rows (seed 0);
    # 0.01 is a little under twice the latter, so a real difference in what Spark trains would show.
    assert abs(auc_spark - auc_local) <= 0.01, f"Spark {auc_spark:.4f}, in process {auc_local:.4f}"
    # and both find the signal: the rows' own logit orders them with AUC ~0.8, chance is 0.5
    assert auc_spark > 0.7
