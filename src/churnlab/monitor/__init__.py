"""The weekly job: score with the registered model, hand CRM-ready lists over, monitor churn while labels lag, alert.

Modules, one concern each:

- :mod:`~churnlab.monitor.scoring`: calibration on the latest matured window, the CRM list (probability,
  value at risk, three reasons, rule zone, holdout flag), the action list, Parquet/CSV files;
- :mod:`~churnlab.monitor.holdout`: the persistent programme holdout (the campaign's hash);
- :mod:`~churnlab.monitor.signals` and :mod:`~churnlab.monitor.views`: CRM signals and the saved CRM views;
- :mod:`~churnlab.monitor.metrics`: customer metrics of each weekly window by segment, with intervals;
- :mod:`~churnlab.monitor.expected`: expected churn while labels lag, realised once matured, the gap;
- :mod:`~churnlab.monitor.drift`: PSI of scores and features, model quality on matured windows;
- :mod:`~churnlab.monitor.alerts`: YAML alert rules, notification through apprise, exit code 3;
- :mod:`~churnlab.monitor.champion`: retrain, champion vs challenger, alias moves;
- :mod:`~churnlab.monitor.weekly`: :func:`run_weekly`, everything above in one call;
- :mod:`~churnlab.monitor.plots`: its figures.
"""

from churnlab.monitor.alerts import EXIT_ALERT, evaluate_alerts, load_alerts, notify
from churnlab.monitor.champion import challenge, champion_or_train, register_challenger, train_model
from churnlab.monitor.expected import expected_churn, reconcile
from churnlab.monitor.holdout import holdout_flags
from churnlab.monitor.scoring import action_list, score_customers, write_lists
from churnlab.monitor.views import load_views
from churnlab.monitor.weekly import WeeklyReport, run_weekly

__all__ = ["EXIT_ALERT", "evaluate_alerts", "load_alerts", "notify", "challenge", "champion_or_train",
           "register_challenger", "train_model", "expected_churn", "reconcile", "holdout_flags", "action_list",
           "score_customers", "write_lists", "load_views", "WeeklyReport", "run_weekly"]
