"""Re-measure the constants that make the world's knobs mean what they say.

:data:`.world.NORMS` (the mean of each hazard covariate over the customer-days of active customers who have
not decided to leave yet) makes each
mechanism's weight its share of churn; :data:`.world.CALIBRATION_B2B` / ``_B2C`` turn the knobs'
monthly churn into the daily base hazard actually realised (selection of frail customers lowers the
realised rate below the naive one). Both depend on the world's dynamics: after changing them, run
``python -m churnlab.data.synthetic.calibrate`` and paste the printed constants into ``world.py``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from churnlab.data.synthetic.build import make_spec
from churnlab.data.synthetic.knobs import MECHANISM_NAMES
from churnlab.data.synthetic.world import CALIBRATION_B2B, CALIBRATION_B2C, NORMS, Recorder, covariates, step

__all__ = ["measure", "calibrate"]


def measure(n_customers: int = 20_000, seed: int = 0, start="2024-01-01", end="2024-12-31",
            norms: dict | None = None, calibration: tuple[float, float] | None = None) -> dict:
    """Simulate a default world and return covariate means and realised monthly churn by segment.

    Returns
    -------
    dict
        ``norms`` (mechanism -> mean covariate over active customer-days) and ``monthly_churn``
        (segment -> ``1 - (1 - churns / exposure days) ** 30``), plus the norms and calibration used.
    """
    spec = make_spec(n_customers, start, end, seed)
    env = dataclasses.replace(spec.env(), norms=norms, calibration=calibration)
    sums = np.zeros(len(MECHANISM_NAMES))
    days = 0.0
    churns = {"B2B": 0, "B2C": 0}
    exposure = {"B2B": 0.0, "B2C": 0.0}
    for c in range(spec.n_chunks):
        st, rng = spec.population(c)
        rec = Recorder(st["gid"].size, 0, 1)
        for t in range(spec.n_days):
            rec.t0 = t
            before = len(rec.rows["churns"])
            step(st, t, rng, env, rec)
            alive = st["alive"]
            deciding = alive & ~st["intent"]  # the hazard applies to customers who have not decided yet
            x = covariates(st, t, env)[:, deciding]
            sums += x.sum(axis=1)
            days += deciding.sum()
            for seg, mask in (("B2B", st["b2b"]), ("B2C", ~st["b2b"])):
                exposure[seg] += float((alive & mask).sum())
            for part in rec.rows["churns"][before:]:
                b2b = st["b2b"][part["i"]]
                churns["B2B"] += int(b2b.sum())
                churns["B2C"] += int((~b2b).sum())
            for key in rec.rows:
                rec.rows[key].clear()
    return {
        "norms": {m: float(sums[i] / days) for i, m in enumerate(MECHANISM_NAMES)},
        "monthly_churn": {s: 1 - (1 - churns[s] / exposure[s]) ** 30 for s in churns},
        "norms_used": norms or NORMS, "calibration_used": calibration or (CALIBRATION_B2B, CALIBRATION_B2C),
    }


def calibrate(n_customers: int = 20_000, seed: int = 0, rounds: int = 4) -> tuple[dict, tuple[float, float]]:
    """Fixed-point iteration: norms from the last run, calibration scaled by target / realised churn."""
    from churnlab.data.synthetic.knobs import Knobs

    k = Knobs()
    norms, cal = dict(NORMS), (CALIBRATION_B2B, CALIBRATION_B2C)
    for r in range(rounds):
        m = measure(n_customers, seed, norms=norms, calibration=cal)
        got = m["monthly_churn"]
        print(f"round {r}: realised monthly churn {got}, calibration {cal}", flush=True)
        norms = {name: (1.0 if name in ("baseline", "moved") else round(v, 4)) for name, v in m["norms"].items()}
        cal = (round(cal[0] * k.monthly_churn_b2b / got["B2B"], 3), round(cal[1] * k.monthly_churn_b2c / got["B2C"], 3))
    return norms, cal


if __name__ == "__main__":
    norms, cal = calibrate()
    print("NORMS =", norms)
    print("CALIBRATION_B2B, CALIBRATION_B2C =", cal)
