"""Patterns that come before churn, one module per area, all point-in-time as of a cutoff.

- :mod:`~churnlab.patterns.population`: who is observed at the cutoff, their outcome and attributes;
- :mod:`~churnlab.patterns.exposure`: churn of exposed vs not exposed customers, with intervals;
- :mod:`~churnlab.patterns.funnel`: stage conversion, the bottleneck, segment comparisons;
- :mod:`~churnlab.patterns.support`: support quality by line and problem cluster;
- :mod:`~churnlab.patterns.usage`: decline, low start, segment norms, recency, components, activation;
- :mod:`~churnlab.patterns.engagement`: email opens, incentives, complaints, late payments, exports,
  and a dated event's effect;
- :mod:`~churnlab.patterns.contacts`: last reached contact, frequency, do-not-disturb;
- :mod:`~churnlab.patterns.event_study`: churners aligned on their churn date vs matched stayers;
- :mod:`~churnlab.patterns.signals` and :mod:`~churnlab.patterns.rules`: early-warning signals and
  CRM-style risk rules as thresholds on the model's point-in-time feature columns;
- :mod:`~churnlab.patterns.lifetime`, :mod:`~churnlab.patterns.value` and :mod:`~churnlab.patterns.clv`:
  expected lifetime (delayed entry, restricted means), LTV, concentration, revenue churn, the worth of a
  churn cut, published churn figures, BG/NBD + Gamma-Gamma for purchase logs;
- :mod:`~churnlab.patterns.feedback`: NPS as a score, CSAT's trend, exit surveys vs recorded reasons;
- :mod:`~churnlab.patterns.ownership`: activation, early churn and at-risk counts by owner and place;
- :mod:`~churnlab.patterns.adoption`: retention by adoption depth and per component;
- :mod:`~churnlab.patterns.seasonality`: churn per calendar month where the data spans enough years.

Every function reads only rows stamped strictly before the cutoff; the outcome is churn in
``(cutoff, cutoff + horizon]`` (see :func:`churnlab.metrics.churn_outcome`).
"""
