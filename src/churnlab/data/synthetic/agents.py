"""Support agents of the synthetic world: who answered each ticket, how fast, and how well.

The world's daily loop (:mod:`.world`) decides each ticket's line, whether the bot resolved it,
first-contact resolution (FCR) and the hours to resolve. This module adds, from a stream of its own
(so no earlier draw moves), the operator who handled each ticket the bot did not resolve and the
hours to the first human response. Agents differ in two recorded ways (the truth,
:func:`agents_table`):

- ``no_fcr_rate``: the chance that a ticket they handle is not resolved at first contact. The
  world's chance for a ticket the bot did not resolve is a constant per line
  (:data:`LINE_NO_FCR`), so agents are drawn given the ticket's FCR outcome with Bayes' rule,
  ``P(agent | no FCR) = share * no_fcr_rate / LINE_NO_FCR``, which makes
  ``P(no FCR | agent) = no_fcr_rate`` exactly while the world's tickets stay as they were;
- ``speed``: a multiplier on the median first-response time of the line
  (:data:`LINE_RESPONSE_MEDIAN_HOURS`); the first response is log-normal (log sd
  :data:`RESPONSE_LOG_SD`) and never later than the resolution.

The bot answers at once (:data:`BOT_RESPONSE_HOURS`) and names no agent.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["AGENTS", "LINE_NO_FCR", "LINE_RESPONSE_MEDIAN_HOURS", "RESPONSE_LOG_SD", "BOT_RESPONSE_HOURS",
           "agents_table", "draw_agents"]

#: Chance that a ticket the bot did not resolve misses first-contact resolution, by line (1, 2, 3):
#: one minus the FCR chances 0.6 / 0.7 / 0.5 of :func:`churnlab.data.synthetic.world._tickets`.
LINE_NO_FCR = {1: 0.4, 2: 0.3, 3: 0.5}
#: Median hours to the first human response by line, for an agent of speed 1.
LINE_RESPONSE_MEDIAN_HOURS = {1: 0.75, 2: 2.5, 3: 6.0}
RESPONSE_LOG_SD = 0.9
BOT_RESPONSE_HOURS = 0.01  # well under a minute

_L1_OK = (LINE_NO_FCR[1] - 0.1 * 0.70 * 2) / 0.8  # the eight ordinary operators share the rest of line 1's rate
_L2_OK = (LINE_NO_FCR[2] - 0.55 / 6) / (5 / 6)
# agent, line, share of the line's human-handled tickets, no_fcr_rate, speed, role in the world
AGENTS: tuple[tuple[str, int, float, float, float, str], ...] = (
    *((f"op{i:02d}", 1, 0.1, 0.70 if i in (3, 7) else _L1_OK, 3.0 if i in (5, 7) else 1.0,
       {3: "leaves tickets unresolved", 5: "slow to answer",
        7: "slow and leaves tickets unresolved"}.get(i, "ordinary"))
      for i in range(1, 11)),
    *((f"sp{i:02d}", 2, 1 / 6, 0.55 if i == 4 else _L2_OK, 3.0 if i == 2 else 1.0,
       {2: "slow to answer", 4: "leaves tickets unresolved"}.get(i, "ordinary")) for i in range(1, 7)),
    *((f"ex{i:02d}", 3, 0.25, LINE_NO_FCR[3], 1.0, "ordinary") for i in range(1, 5)),
)
AGENT_NAMES: tuple[str, ...] = tuple(a[0] for a in AGENTS)


def agents_table() -> pd.DataFrame:
    """Return the truth about the support agents, one row per agent.

    Returns
    -------
    DataFrame
        ``agent, line, share`` (of the line's tickets the bot did not resolve), ``no_fcr_rate``
        (true chance a ticket they handle misses first-contact resolution), ``speed`` (multiplier
        on the line's median first-response time), ``median_response_hours`` (before the cap at the
        resolution time) and ``role``.

    Examples
    --------
    >>> t = agents_table()
    >>> t.groupby("line").apply(lambda g: round(float((g["share"] * g["no_fcr_rate"]).sum()), 6)).to_dict()
    {1: 0.4, 2: 0.3, 3: 0.5}
    """
    df = pd.DataFrame(AGENTS, columns=["agent", "line", "share", "no_fcr_rate", "speed", "role"])
    df["median_response_hours"] = df["line"].map(LINE_RESPONSE_MEDIAN_HOURS) * df["speed"]
    df = df[["agent", "line", "share", "no_fcr_rate", "speed", "median_response_hours", "role"]]
    return df.astype({"agent": "string", "role": "string"})


def draw_agents(line: np.ndarray, bot: np.ndarray, fcr: np.ndarray, hours: np.ndarray,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw the agent and the first-response hours of each ticket.

    Parameters
    ----------
    line, bot, fcr, hours : ndarray
        Per ticket: support line (1-3), resolved by the bot, first-contact resolution, hours to
        resolve (as the world drew them).
    rng : numpy Generator
        A stream used for nothing else (two uniforms and one normal per ticket, whatever the ticket).

    Returns
    -------
    agent_code : ndarray of int16
        Index into :data:`AGENT_NAMES`; -1 for tickets the bot resolved (no agent).
    first_response_hours : ndarray of float
        Hours from opening to the first response, at most ``hours``.
    """
    n = line.size
    u_agent = rng.random(n)
    z = rng.standard_normal(n)
    table = agents_table()
    code = np.full(n, -1, np.int16)
    speed = np.ones(n)
    for ln, g in table.groupby("line"):
        idx = g.index.to_numpy()
        base = LINE_NO_FCR[int(ln)]
        w_miss = g["share"].to_numpy() * g["no_fcr_rate"].to_numpy() / base
        w_hit = g["share"].to_numpy() * (1.0 - g["no_fcr_rate"].to_numpy()) / (1.0 - base)
        for mask, w in ((~fcr, w_miss), (fcr, w_hit)):
            sel = (line == ln) & ~bot & mask
            cdf = np.cumsum(w) / np.sum(w)
            pick = np.minimum(np.searchsorted(cdf, u_agent[sel], side="right"), idx.size - 1)
            code[sel] = idx[pick]
            speed[sel] = g["speed"].to_numpy()[pick]
    median = np.vectorize(lambda x: LINE_RESPONSE_MEDIAN_HOURS.get(int(x), 1.0))(line) if n else np.zeros(0)
    first = np.exp(np.log(median * speed) + RESPONSE_LOG_SD * z)
    first = np.where(bot, BOT_RESPONSE_HOURS, np.minimum(first, hours))
    return code, first
