"""Matplotlib figures shared by notebooks and reports, one module per area.

Every function takes the DataFrame a library function returned, draws on ``ax`` when given (a new
figure otherwise) and returns the Axes; it computes nothing beyond what it draws.
"""

from __future__ import annotations

__all__ = ["new_axes", "month_axis"]


def new_axes(ax=None, *, figsize: tuple[float, float] = (7.0, 4.0)):
    """Return ``ax`` or a fresh Axes of ``figsize`` inches."""
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax
    _, ax = plt.subplots(figsize=figsize)
    return ax


def month_axis(ax) -> None:
    """Label a time axis with month names (``Jan``, ``Feb`` ... and the year once), never overlapping dates."""
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=3, maxticks=12)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
