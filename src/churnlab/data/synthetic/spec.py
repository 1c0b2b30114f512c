"""What defines a synthetic world, and how to rebuild any chunk of it at any day.

A world is fully defined by ``(n_customers, start, end, seed, knobs)``. Customers are simulated in
chunks of :data:`CHUNK_SIZE`; each chunk draws from its own streams, seeded by
``np.random.SeedSequence(seed, spawn_key=(chunk, purpose))``, so a chunk can be re-simulated alone
(the truth replays chunks to any cutoff) and results do not depend on how many chunks run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from churnlab.data.synthetic.knobs import Knobs
from churnlab.data.synthetic.population import draw_population
from churnlab.data.synthetic.world import Env, simulate

__all__ = ["WorldSpec", "CHUNK_SIZE", "SIM", "EXPAND", "MONTE_CARLO", "CAMPAIGN", "DETAILS"]

CHUNK_SIZE = 20_000
SIM, EXPAND, MONTE_CARLO, CAMPAIGN = 0, 1, 2, 3  # purposes of the random streams
DETAILS = 4  # details added to the tables later (ticket agents, first responses): their own stream


@dataclass(frozen=True)
class WorldSpec:
    """The defining parameters of a world.

    Parameters
    ----------
    n_customers : int
    start, end : Timestamp
        Day 0 of the simulation and the observation time ``as_of`` (days ``start <= d < end``).
    seed : int
    knobs : Knobs
    """

    n_customers: int
    start: pd.Timestamp
    end: pd.Timestamp
    seed: int
    knobs: Knobs

    @property
    def n_days(self) -> int:
        """Number of simulated days."""
        return int((self.end - self.start).days)

    @property
    def id_width(self) -> int:
        """Digits of the customer number in ids (at least 6: ``c000123``)."""
        return max(6, len(str(self.n_customers - 1)))

    @property
    def n_chunks(self) -> int:
        """Number of chunks of customers."""
        return -(-self.n_customers // CHUNK_SIZE)

    def chunk_gids(self, c: int) -> np.ndarray:
        """Global customer numbers of chunk ``c``."""
        return np.arange(c * CHUNK_SIZE, min((c + 1) * CHUNK_SIZE, self.n_customers), dtype=np.int64)

    def rng(self, c: int, purpose: int, *extra: int) -> np.random.Generator:
        """Return the random stream of chunk ``c`` for ``purpose`` (and any extra key, e.g. a seed)."""
        return np.random.Generator(np.random.PCG64(np.random.SeedSequence(self.seed, spawn_key=(c, purpose, *extra))))

    def env(self) -> Env:
        """Calendar and rates shared by every step."""
        ui, comp = self.knobs.dates(self.start, self.end)
        return Env(knobs=self.knobs, weekday0=int(self.start.day_of_week), ui_day=int((ui - self.start).days),
                   comp_day=int((comp - self.start).days))

    def population(self, c: int) -> tuple[dict, np.random.Generator]:
        """Chunk ``c`` at day 0 and its simulation stream, positioned right after the population draw."""
        rng = self.rng(c, SIM)
        pop = draw_population(rng, self.chunk_gids(c), self.n_days, self.knobs, self.knobs.ui_change_segment == "B2B")
        return pop, rng

    def state_at(self, c: int, day: int) -> dict:
        """State of chunk ``c`` at the start of ``day`` (after days ``0 .. day-1``), by exact replay."""
        pop, rng = self.population(c)
        return simulate(pop, 0, day, rng, self.env())

    def to_dict(self) -> dict:
        """JSON-serialisable description."""
        return {"n_customers": self.n_customers, "start": self.start.isoformat(), "end": self.end.isoformat(),
                "seed": self.seed, "knobs": self.knobs.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> WorldSpec:
        """Inverse of :meth:`to_dict`."""
        return cls(n_customers=int(d["n_customers"]), start=pd.Timestamp(d["start"]), end=pd.Timestamp(d["end"]),
                   seed=int(d["seed"]), knobs=Knobs(**d["knobs"]))
