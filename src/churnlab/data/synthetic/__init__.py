"""The synthetic customer world with ground truth.

:func:`generate` simulates customers day by day and returns the canonical tables plus a
:class:`Truth` (true churn probabilities, true drivers, the mechanisms); :func:`run_campaign` gives
offers at a date and continues the world, returning both potential outcomes of every customer;
:func:`save_world` / :func:`load_world` persist both.
"""

from churnlab.data.synthetic.build import generate, iter_chunks, make_spec
from churnlab.data.synthetic.campaign import CampaignTruth, run_campaign
from churnlab.data.synthetic.knobs import MECHANISMS, Knobs, mechanisms_table
from churnlab.data.synthetic.storage import load_world, save_world
from churnlab.data.synthetic.truth import Truth

__all__ = [
    "generate", "iter_chunks", "make_spec", "Knobs", "MECHANISMS", "mechanisms_table", "Truth", "save_world",
    "load_world", "run_campaign", "CampaignTruth",
]
