"""Shared behaviour of the experiment result objects: ``summary``, ``to_pandas``, ``__repr__``, ``_repr_html_``.

Each concrete result is a frozen dataclass that defines ``summary`` (a DataFrame with fixed columns),
``_headline`` (the one-line text of ``__repr__``), ``_settings`` (what changes a number's meaning:
alpha, sidedness, n, test) and ``plot``. Display code computes nothing and never raises.
"""

from __future__ import annotations

import html

import pandas as pd

__all__ = ["Result"]


class Result:
    """Base of the experiment results: display from ``summary``, ``_headline`` and ``_settings``."""

    @property
    def summary(self) -> pd.DataFrame:  # pragma: no cover - every subclass defines it
        """Fixed-column DataFrame of the result."""
        raise NotImplementedError

    def to_pandas(self) -> pd.DataFrame:
        """Return a copy of :attr:`summary`."""
        return self.summary.copy()

    def _headline(self) -> str:
        return ""

    def _settings(self) -> dict[str, object]:
        return {}

    def __repr__(self) -> str:
        try:
            return f"<{type(self).__name__} {self._headline()}>"
        except Exception:  # noqa: BLE001 - display never raises
            return f"<{type(self).__name__}>"

    def _repr_html_(self) -> str:
        try:
            settings = ", ".join(f"{k}={v}" for k, v in self._settings().items())
            table = self.summary.to_html(float_format=lambda v: f"{v:.4g}", index=False, border=0)
            return (
                f"<div><strong>{html.escape(type(self).__name__)}</strong> "
                f"<span style='color:#555'>{html.escape(settings)}</span>{table}</div>"
            )
        except Exception:  # noqa: BLE001 - display never raises
            return f"<pre>{html.escape(repr(self))}</pre>"
