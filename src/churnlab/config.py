"""Paths, column names and vocabularies shared by every module.

Nothing here does work at import time: no I/O, no logging, no environment reads.
Functions that need a path call :func:`project_root` when they run.
"""

from __future__ import annotations

import os
from pathlib import Path

# --- column names used as keyword defaults everywhere -------------------------------------------
CUSTOMER_ID = "customer_id"
SIGNUP_AT = "signup_at"
SEGMENT = "segment"
CUTOFF = "cutoff"
LABEL = "label"
TIMESTAMP = "timestamp"

# --- vocabularies of the canonical tables ------------------------------------------------------
SEGMENTS = ("B2B", "B2C")
PLANS = ("basic", "pro", "enterprise")
TICKET_LINES = (1, 2, 3)
TICKET_CATEGORIES = ("technical", "financial", "emotional")
MESSAGE_CHANNELS = ("email", "push")
MESSAGE_KINDS = ("newsletter", "promo")
OFFERS = ("discount", "bonus", "exclusive_content")
CHURN_REASONS = ("price", "competitor", "product", "service", "moved", "other")
FUNNEL_STAGES = ("visit", "signup", "activation", "first_payment")
SURVEY_KINDS = ("nps", "csat", "exit")
CONTACT_KINDS = ("call", "email")
# Event types. ``session`` is a login, ``component_use`` the use of one product component (named in
# ``component``), ``export`` a data export, ``purchase`` a transaction (amount in ``amount``).
EVENT_TYPES = ("session", "component_use", "export", "purchase")
COMPONENTS = ("dashboard", "reports", "integrations", "automation", "collaboration", "mobile_app")

PROJECT_MARKERS = ("pyproject.toml",)


def project_root(start: Path | None = None) -> Path:
    """Return the churnlab project folder.

    ``CHURNLAB_HOME`` wins when set; otherwise the nearest parent of ``start`` (default: the current
    working directory, then this file) that holds a ``pyproject.toml`` declaring ``churnlab``.

    Parameters
    ----------
    start : Path, optional
        Where to begin the upward search.

    Returns
    -------
    Path
        Absolute path of the project root; the current directory when none is found.
    """
    env = os.environ.get("CHURNLAB_HOME")
    if env:
        return Path(env).resolve()
    candidates = [Path(start) if start else Path.cwd(), Path(__file__).resolve().parent]
    for origin in candidates:
        for folder in [origin.resolve(), *origin.resolve().parents]:
            marker = folder / "pyproject.toml"
            if marker.is_file() and 'name = "churnlab"' in marker.read_text(encoding="utf-8"):
                return folder
    return Path.cwd().resolve()


def data_dir() -> Path:
    """Folder for generated and cached data (git-ignored): ``<root>/data/generated``."""
    return project_root() / "data" / "generated"


def runs_dir() -> Path:
    """Folder for executed notebooks and reports (git-ignored): ``<root>/runs``."""
    return project_root() / "runs"


#: Environment variable that holds the run folder while ``churnlab run`` executes a notebook; the runner
#: sets it in the kernel's environment, so files a notebook writes land next to its executed copy
#: (:func:`churnlab.notebook.output_path`; outside a run they go to the git-ignored ``scratch/``).
RUN_DIR_ENV = "CHURNLAB_RUN_DIR"
