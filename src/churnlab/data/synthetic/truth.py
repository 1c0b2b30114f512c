"""The ground truth of a synthetic world: true churn probabilities, true drivers, the mechanisms.

:class:`Truth` is what the workbench measures itself against: the oracle's AUC (the physical limit
for any model), SHAP's drivers against the true ones, an A/B estimate against the true effect.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from churnlab import config as C
from churnlab.data.synthetic.agents import agents_table
from churnlab.data.synthetic.knobs import MECHANISM_NAMES, Knobs, mechanisms_table
from churnlab.data.synthetic.spec import CHUNK_SIZE, MONTE_CARLO, WorldSpec
from churnlab.data.synthetic.tables import customer_ids
from churnlab.data.synthetic.world import Env, FateChain, Treatment, simulate, take_state, tile_state
from churnlab.errors import AnalysisError, DataSourceError

__all__ = ["Truth", "monte_carlo_churn", "drivers_frame", "MC_ROWS"]

#: Largest number of simulated customer copies held at once by the Monte Carlo (memory bound).
MC_ROWS = 400_000


def monte_carlo_churn(state: dict, day: int, horizon_days: int, n_sims: int, env: Env, rng_of,
                      treatment: Treatment | None = None) -> np.ndarray:
    """Share of ``n_sims`` re-simulations in which each customer churns in days ``day .. day+horizon-1``.

    Parameters
    ----------
    state : dict of ndarray
        State of the customers at the start of ``day`` (not modified).
    day : int
        First simulated day (the cutoff's day number).
    horizon_days : int
        Days simulated.
    n_sims : int
        Replicates per customer.
    env : Env
        Calendar and rates of the world.
    rng_of : callable
        ``rng_of(batch) -> numpy Generator``: the stream of each batch of replicates. Passing the same
        streams for two treatments gives common random numbers.
    treatment : Treatment, optional
        Offer multipliers in force during the horizon.

    Returns
    -------
    ndarray of float
        Per customer, the probability of a first cancellation in the window.

    Notes
    -----
    Monte Carlo over the paths of the covariates (engagement, satisfaction, usage, tickets,
    invoices...), closed form over the decision and cancellation given each path
    (:class:`~.world.FateChain`), averaged over ``n_sims`` paths. Replicate ``j`` of customer ``i``
    uses the same random numbers whatever the treatment, because every step draws fixed-shape blocks
    (see :mod:`.world`): treatments compared with the same ``rng_of`` share common random numbers.
    """
    n = state["gid"].size
    if n == 0:
        return np.zeros(0)
    per_batch = max(1, min(n_sims, MC_ROWS // max(n, 1)))
    churned = np.zeros(n)
    done, batch = 0, 0
    while done < n_sims:
        k = min(per_batch, n_sims - done)
        st = tile_state(state, k)
        tr = None
        if treatment is not None:
            tr = treatment.tile(k)
        chain = FateChain(st["intent"] & st["alive"])
        simulate(st, day, day + horizon_days, rng_of(batch), env, None, tr, chain=chain)
        churned += chain.p_gone.reshape(k, n).sum(axis=0)
        done += k
        batch += 1
    return churned / n_sims


def drivers_frame(records: dict | None, width: int) -> pd.DataFrame:
    """Tabulate the true drivers of every cancellation: one row per churn and mechanism with a positive share.

    Returns
    -------
    DataFrame
        ``customer_id, churned_at, decided_at, mechanism, hazard_share, primary, churn_reason``;
        ``hazard_share`` is the mechanism's share of the customer's hazard on the day they decided to
        leave (shares of one churn sum to 1); ``primary`` marks the mechanism drawn as the cause.
    """
    from churnlab.data.synthetic.knobs import REASON_OF

    cols = ["customer_id", "churned_at", "decided_at", "mechanism", "hazard_share", "primary", "churn_reason"]
    if not records or not records["gid"].size:
        return pd.DataFrame({c: pd.Series(dtype="string") for c in cols})
    gid = records["gid"]
    shares = records["shares"]  # (churns, mechanisms)
    r, m = np.nonzero(shares > 0)
    mech_names = np.array(MECHANISM_NAMES, dtype=object)
    df = pd.DataFrame({
        C.CUSTOMER_ID: customer_ids(gid[r], width),
        "churned_at": np.asarray(records["end_ns"][r], np.int64).view("datetime64[ns]"),
        "decided_at": np.asarray(records["decided_ns"][r], np.int64).view("datetime64[ns]"),
        "mechanism": pd.Series(mech_names[m], dtype="string"),
        "hazard_share": shares[r, m].astype(float),
        "primary": records["mech"][r] == m,
        "churn_reason": pd.Series([REASON_OF[x] for x in mech_names[records["mech"][r]]], dtype="string"),
    })
    return df.sort_values([C.CUSTOMER_ID, "churned_at", "hazard_share"], ascending=[True, True, False],
                          ignore_index=True)


@dataclass(frozen=True)
class Truth:
    """Ground truth of a synthetic world.

    Parameters
    ----------
    spec : WorldSpec
        What defines the world (size, period, seed, knobs); chunks can be replayed exactly from it.
    drivers : DataFrame
        ``customer_id, churned_at, decided_at, mechanism, hazard_share, primary, churn_reason``: which
        mechanisms raised each churner's hazard and by how much (see :func:`drivers_frame`).
    final_state : dict of ndarray
        Every customer's full latent state at the end of the world (for campaigns and for
        ``churn_probability`` at the end without replay).
    """

    spec: WorldSpec
    drivers: pd.DataFrame
    final_state: dict = field(repr=False)

    def __repr__(self) -> str:
        s = self.spec
        return (f"Truth(n_customers={s.n_customers:,}, {s.start.date()}..{s.end.date()}, seed={s.seed}, "
                f"churns={self.drivers[['customer_id', 'churned_at']].drop_duplicates().shape[0]:,})")

    @property
    def knobs(self) -> Knobs:
        """The knobs the world was generated with."""
        return self.spec.knobs

    @property
    def mechanisms(self) -> pd.DataFrame:
        """``mechanism, description, observable_signal, churn_reason``: every mechanism of the world."""
        return mechanisms_table()

    @property
    def agents(self) -> pd.DataFrame:
        """``agent, line, share, no_fcr_rate, speed, median_response_hours, role``: the support agents."""
        return agents_table()

    def chunk_state(self, c: int, day: int) -> dict:
        """State of chunk ``c`` at the start of ``day``: stored at the end, replayed otherwise."""
        if day == self.spec.n_days:
            lo = c * CHUNK_SIZE
            hi = min(lo + CHUNK_SIZE, self.spec.n_customers)
            return take_state(self.final_state, np.arange(lo, hi))
        return self.spec.state_at(c, day)

    def _day(self, cutoff) -> int:
        ts = pd.Timestamp(cutoff)
        day = (ts.normalize() - self.spec.start).days
        if not 0 < day <= self.spec.n_days:
            raise AnalysisError(
                f"cutoff {ts.date()}: must lie after the world's start {self.spec.start.date()} and not after its "
                f"end {self.spec.end.date()}"
            )
        return int(day)

    def churn_probability(self, cutoff, horizon_days: int = 30, n_sims: int = 200, seed: int = 0,
                          chunks: Sequence[int] | None = None) -> pd.DataFrame:
        """Return the true probability that each active customer cancels in ``(cutoff, cutoff + horizon_days]``.

        Parameters
        ----------
        cutoff : str or Timestamp
            Normalised to midnight; customers active then (signed up before it, not cancelled) are scored.
        horizon_days : int
            Length of the label window in days.
        n_sims : int
            Monte Carlo replicates per customer (standard error at most 0.5 / sqrt(n_sims)).
        seed : int
            Seed of the Monte Carlo streams.
        chunks : sequence of int, optional
            Replay only these chunks of customers (each chunk is an independent draw of the population,
            so a few chunks are a random sample of it); default every chunk.

        Returns
        -------
        DataFrame
            ``customer_id, p_churn``, one row per customer active at the cutoff (in the chunks replayed),
            sorted by id.

        Raises
        ------
        AnalysisError
            When the cutoff lies outside the world or the horizon is not positive.

        Notes
        -----
        Monte Carlo re-simulation: each chunk is replayed exactly to the cutoff (same streams), then
        its active customers are simulated ``n_sims`` times over the horizon from that full state
        (latent engagement, satisfaction, intent to leave, memories of bad service and late payments)
        with fresh streams. Replicates share common random numbers across calls with the same seed.
        """
        if horizon_days <= 0:
            raise AnalysisError(f"horizon_days must be positive, got {horizon_days}")
        day = self._day(cutoff)
        env = self.spec.env()
        ids, ps = [], []
        replay = range(self.spec.n_chunks) if chunks is None else sorted({int(c) for c in chunks})
        if any(c < 0 or c >= self.spec.n_chunks for c in replay):
            raise AnalysisError(f"chunks must lie in 0..{self.spec.n_chunks - 1}; got {list(chunks)}")
        for c in replay:
            st = self.chunk_state(c, day)
            act = np.flatnonzero(st["alive"] & (st["signup_day"] < day))
            sub = take_state(st, act)
            p = monte_carlo_churn(sub, day, horizon_days, n_sims, env,
                                  lambda b, c=c: self.spec.rng(c, MONTE_CARLO, seed, day, b))
            ids.append(sub["gid"])
            ps.append(p)
        gid = np.concatenate(ids)
        w = self.spec.id_width
        return pd.DataFrame({
            C.CUSTOMER_ID: customer_ids(gid, w),
            "p_churn": np.concatenate(ps),
        })

    # --- persistence ---------------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        """Write ``world.json``, ``drivers.parquet`` and ``state.npz`` into ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "world.json").write_text(json.dumps(self.spec.to_dict(), indent=2), encoding="utf-8")
        self.drivers.to_parquet(folder / "drivers.parquet", index=False)
        np.savez_compressed(folder / "state.npz", **self.final_state)
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> Truth:
        """Read a truth written by :meth:`save`.

        Raises
        ------
        DataSourceError
            When the folder does not hold a saved truth.
        """
        folder = Path(folder)
        if not (folder / "world.json").is_file():
            raise DataSourceError(f"{folder}: no world.json; expected a truth folder written by save_world")
        spec = WorldSpec.from_dict(json.loads((folder / "world.json").read_text(encoding="utf-8")))
        drivers = pd.read_parquet(folder / "drivers.parquet")
        with np.load(folder / "state.npz") as z:
            state = {k: z[k] for k in z.files}
        return cls(spec=spec, drivers=drivers, final_state=state)
