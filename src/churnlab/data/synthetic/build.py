"""Generate a synthetic world: the canonical tables plus its ground truth.

:func:`generate` builds the whole world in memory; :func:`iter_chunks` yields it chunk by chunk
(canonical tables of a few thousand customers at a time) for worlds too large for memory.
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd

from churnlab.data.synthetic.knobs import make_knobs
from churnlab.data.synthetic.spec import DETAILS, EXPAND, WorldSpec
from churnlab.data.synthetic.tables import chunk_records, concat_records, records_to_frames
from churnlab.data.synthetic.truth import Truth, drivers_frame
from churnlab.data.synthetic.world import Recorder, concat_states, simulate
from churnlab.errors import DataSourceError
from churnlab.schema import Dataset

__all__ = ["generate", "iter_chunks", "make_spec", "dated_events", "DESCRIPTION"]

DESCRIPTION = (
    "Synthetic subscription business with ground truth: B2B and B2C customers signing up through a funnel, "
    "using six product components, paying monthly invoices, contacting support, receiving newsletters and promos; "
    "churn is driven by drifting engagement and satisfaction, price sensitivity, late payments, support quality, a "
    "UI change, a competitor offer and exogenous moves, and some churned customers come back."
)


def make_spec(n_customers: int, start="2024-01-01", end="2024-12-31", seed: int = 0, **knobs) -> WorldSpec:
    """Check the arguments of :func:`generate` and return the world's :class:`WorldSpec`.

    Raises
    ------
    DataSourceError
        When ``n_customers`` < 1, the period is shorter than 28 days, or a knob is unknown.
    """
    if int(n_customers) < 1:
        raise DataSourceError(f"synthetic world: n_customers must be at least 1, got {n_customers}")
    s, e = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    if (e - s).days < 28:
        raise DataSourceError(f"synthetic world: the period {s.date()}..{e.date()} must span at least 28 days")
    return WorldSpec(n_customers=int(n_customers), start=s, end=e, seed=int(seed), knobs=make_knobs(**knobs))


def dated_events(spec: WorldSpec) -> list[dict]:
    """List the dated shocks the world simulates, for ``dataset.metadata["dated_events"]``.

    Analyses read them from the dataset (:func:`churnlab.patterns.engagement.dated_events`) instead of
    re-deriving them from the knobs, so a saved world carries its own calendar.

    Returns
    -------
    list of dict
        ``{"event", "date" (ISO), "segment" (or None for every segment), "strength", "description"}``:
        the interface change when its day falls inside the period (the day the world applies it), the
        competitor's offer when it comes before ``end`` (from its date on it lures the price-sensitive).
    """
    env, k = spec.env(), spec.knobs
    out = []
    if 0 <= env.ui_day < spec.n_days:
        out.append({"event": "ui_change", "date": (spec.start + pd.Timedelta(days=env.ui_day)).isoformat(),
                    "segment": k.ui_change_segment, "strength": float(k.ui_change),
                    "description": "interface change: unsubscribes, NPS and churn rise in the hit segment"})
    if env.comp_day < spec.n_days:
        out.append({"event": "competitor_offer", "date": (spec.start + pd.Timedelta(days=env.comp_day)).isoformat(),
                    "segment": None, "strength": float(k.competitor),
                    "description": "a competitor's offer lures price-sensitive customers away (decays after it)"})
    return out


def _world_dataset(spec: WorldSpec, tables: dict) -> Dataset:
    """Wrap ``tables`` (frames in memory, or the streamed Parquet paths) as the world's Dataset."""
    return Dataset(
        name="synthetic", tables=tables, as_of=spec.end, kind="events",
        source=f"churnlab.data.synthetic.generate(n_customers={spec.n_customers}, seed={spec.seed})",
        description=DESCRIPTION, metadata={"world": spec.to_dict(), "dated_events": dated_events(spec)},
    )


def _bar(spec: WorldSpec, progress: bool):
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=spec.n_chunks * spec.n_days, desc=f"world of {spec.n_customers:,} customers", unit="day")


def iter_chunks(spec: WorldSpec, progress: bool = False) -> Iterator[tuple[dict, dict]]:
    """Simulate the world chunk by chunk.

    Yields
    ------
    records : dict
        Numeric records of the chunk (decode with :func:`.tables.records_to_frames`).
    state : dict of ndarray
        The chunk's final state.
    """
    env = spec.env()
    bar = _bar(spec, progress)
    try:
        for c in range(spec.n_chunks):
            pop, rng = spec.population(c)
            rec = Recorder(pop["gid"].size, 0, spec.n_days)
            simulate(pop, 0, spec.n_days, rng, env, rec, bar=bar)
            yield chunk_records(pop, rec, spec.start, spec.end, spec.rng(c, EXPAND), spec.rng(c, DETAILS)), pop
    finally:
        if bar is not None:
            bar.close()


def generate(n_customers: int, start="2024-01-01", end="2024-12-31", seed: int = 0, progress: bool = False,
             **knobs) -> tuple[Dataset, Truth]:
    """Generate a synthetic customer world with every canonical table and its ground truth.

    Parameters
    ----------
    n_customers : int
        Customers who sign up (long-standing ones before ``start``, new ones during the period);
        prospects who never sign up appear in ``funnel`` only.
    start, end : str or Timestamp
        The simulated period; ``end`` is the dataset's ``as_of`` (activity happens on days before it).
    seed : int
        Same seed, same world (identical tables and fingerprint).
    progress : bool
        Show a tqdm progress bar.
    **knobs
        Any field of :class:`~churnlab.data.synthetic.knobs.Knobs`.

    Returns
    -------
    Dataset
        ``name="synthetic"``, ``kind="events"``, ``as_of=end``, with tables customers, subscriptions,
        payments, events, tickets, messages, contacts, surveys and funnel; ``metadata`` holds the
        world's spec (``"world"``) and its dated shocks (``"dated_events"``, see :func:`dated_events`).
    Truth
        True churn probabilities at any cutoff, true drivers of every churn, the mechanisms.

    Raises
    ------
    DataSourceError
        For an empty world, a period under 28 days or an unknown knob.

    Examples
    --------
    >>> ds, truth = generate(300, start="2024-01-01", end="2024-03-01", seed=1)
    >>> ds.name, ds.kind, str(ds.as_of.date())
    ('synthetic', 'events', '2024-03-01')
    """
    spec = make_spec(n_customers, start, end, seed, **knobs)
    parts, states = [], []
    for records, state in iter_chunks(spec, progress):
        parts.append(records)
        states.append(state)
    rec = concat_records(parts)
    dataset = _world_dataset(spec, records_to_frames(rec, spec.id_width))
    truth = Truth(spec=spec, drivers=drivers_frame(rec.get("churn_truth"), spec.id_width),
                  final_state=concat_states(states))
    return dataset, truth


#: Worlds with more customers than this are streamed to Parquet chunk by chunk by ``churnlab data generate``
#: and by a spec's data preparation (a world that large does not belong in one pandas frame).
STREAM_CUSTOMERS = 200_000


def stream_world(folder, n_customers: int, start="2024-01-01", end="2024-12-31", seed: int = 0,
                 progress: bool = False, **knobs):
    """Generate a world chunk by chunk straight to Parquet: the tables of :func:`generate`, never all in memory.

    Each chunk's customers are simulated, decoded and appended to one ``<table>.parquet`` per table, so
    peak memory is one chunk's rows (about 1.1 GiB at any size) plus the truth's per-customer state. The
    folder is laid out as :func:`~churnlab.data.synthetic.storage.save_world` lays it out, with the same
    tables, rows and fingerprint as ``save_world(*generate(...))`` for the same arguments; read it with
    :func:`~churnlab.data.synthetic.storage.load_world`, whose big tables stay on disk.

    Parameters
    ----------
    folder : str or Path
        Destination; created when absent.
    n_customers, start, end, seed, progress, **knobs
        As for :func:`generate`.

    Returns
    -------
    dict of str to int
        Rows written per table.
    """
    from pathlib import Path

    import pyarrow as pa
    import pyarrow.parquet as pq

    from churnlab.data.synthetic.storage import TRUTH_FOLDER
    from churnlab.lazy import combine_digests, fingerprint_of, table_digest

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    spec = make_spec(n_customers, start, end, seed, **knobs)
    writers: dict[str, pq.ParquetWriter] = {}
    digests: dict[str, list] = {}
    drivers, states = [], []
    try:
        for records, state in iter_chunks(spec, progress):
            for name, df in records_to_frames(records, spec.id_width).items():
                table = pa.Table.from_pandas(df, preserve_index=False)
                if name not in writers:
                    writers[name] = pq.ParquetWriter(folder / f"{name}.parquet", table.schema)
                writers[name].write_table(table.cast(writers[name].schema))
                digests.setdefault(name, []).append(table_digest(df))
            drivers.append(drivers_frame(records.get("churn_truth"), spec.id_width))
            states.append(state)
            del records
    finally:
        for w in writers.values():
            w.close()
    parts = {name: combine_digests(d) for name, d in digests.items()}
    # the digests were summed chunk by chunk, so the files need not be read again to fingerprint them
    _world_dataset(spec, {name: folder / f"{name}.parquet" for name in parts}).write_manifest(
        folder, fingerprint_of(parts))
    Truth(spec=spec, drivers=pd.concat(drivers, ignore_index=True), final_state=concat_states(states)).save(
        folder / TRUTH_FOLDER)
    return {name: p[0] for name, p in parts.items()}
