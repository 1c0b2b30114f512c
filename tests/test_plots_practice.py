"""Every new figure draws the frame its pattern function returns, on the synthetic world."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from churnlab.metrics import churn_over_time  # noqa: E402
from churnlab.patterns import adoption, feedback, funnel, ownership, support, value  # noqa: E402
from churnlab.plots import breakdowns as B  # noqa: E402
from churnlab.plots import feedback as F  # noqa: E402
from churnlab.plots import value as V  # noqa: E402


@pytest.fixture(scope="module")
def world():
    synthetic = pytest.importorskip("churnlab.data.synthetic")
    return synthetic.generate(1200, seed=4)[0]


def test_every_new_figure_draws_and_returns_its_axes(world):
    ds = world
    cut = ds.as_of
    ot = churn_over_time(ds, start="2024-01-01")
    o = ownership.onboarding_outcomes(ds)
    figures = [
        V.plot_ltv(value.lifetime_value(ds)),
        V.plot_pareto(value.revenue_concentration(value.customer_values(ds))),
        V.plot_revenue_churn(value.revenue_churn(ot)),
        V.plot_churn_cut(value.churn_cut_value(ds)),
        V.plot_benchmarks(value.churn_vs_benchmarks(ds)),
        F.plot_nps_trend(feedback.nps_table(ds, cut, by="segment"), by="segment"),
        F.plot_csat_trend(feedback.csat_trend(ds, cut)),
        F.plot_exit_reasons(feedback.exit_reasons(ds, cut)),
        feedback.exit_agreement(ds, cut).plot(),
        B.plot_breakdown(ownership.breakdown(o, "region", "activated"), "region"),
        B.plot_first_response(support.first_response(ds, cut, by="agent")),
        B.plot_agent_unresolved(support.agent_unresolved(ds, cut)),
        B.plot_component_lifetimes(adoption.component_lifetimes(adoption.adoption_table(ds))),
        B.plot_stage_durations(funnel.stage_durations(ds, cut)),
    ]
    for ax in figures:
        assert ax.has_data() or ax.images
    plt.close("all")
