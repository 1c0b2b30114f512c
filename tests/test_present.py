"""What a stakeholder reads: numbers in their units, the executive summary first, tables formatted for people."""

from __future__ import annotations

import nbformat
import pandas as pd
import pytest

from churnlab.errors import ChurnlabError
from churnlab.notebook import finding
from churnlab.present import SUMMARY_ROLE, executive_summary, format_value, readable_table
from churnlab.record import NotebookRecord, RunRecord
from churnlab.report import pop_summary, render_notebook


@pytest.mark.parametrize(("value", "kind", "unit", "expected"), [
    (0.0712, "percent", "", "7.1%"),            # 0.0712 x 100 rounded to one decimal
    (-0.021, "points", "", "−2.1 pts"),         # a difference of shares in percentage points
    (0.021, "points", "", "+2.1 pts"),
    (0.00003, "pvalue", "", "< 0.001"),         # p-values below 0.001 are not shown as digits
    (0.0412, "pvalue", "", "0.041"),
    (12774.2, "currency", "$", "$12,774"),       # money of 1,000 or more as whole amounts
    (-12.5, "currency", "€", "−€12.50"),
    (3526.0, "count", "", "3,526"),             # never 3526.000000
    (float("inf"), "count", "", "∞"),           # never "inf customers"
    (float("nan"), "auc", "", "n/a"),
    (0.78834, "auc", "", "0.788"),
    (1.0, "days", "", "1 day"),                 # never "1 days"
    (14.0, "days", "", "14 days"),
    (2.113, "ratio", "", "2.11×"),
    (0.123456, "number", "", "0.123"),
])
def test_format_value_writes_each_kind_as_people_read_it(value, kind, unit, expected):
    assert format_value(value, kind, unit=unit) == expected


def test_format_value_refuses_an_unknown_kind():
    with pytest.raises(ChurnlabError, match="format 'percentage'"):
        format_value(0.1, "percentage")


def test_executive_summary_escapes_plain_strings_and_keeps_findings_formatting():
    s = executive_summary(
        "Who leaves?", "<script>x</script>",
        [finding("{segment} churned at {rate:.1%}.", prefix="", segment="<b>SMB</b>", rate=0.07), "plain *text*"],
        ["Call the red zone."], show=False)
    md = s.markdown()
    assert "<script>" not in md and "&lt;script&gt;" in md
    assert "&lt;b&gt;SMB&lt;/b&gt; churned at 7.0%." in md
    assert "\\*text\\*" in md  # a plain string cannot start emphasis
    assert md.index("**Question.**") < md.index("**What we found**") < md.index("**What to do next**")


@pytest.mark.parametrize("n", [0, 7])
def test_executive_summary_wants_one_to_six_findings(n):
    with pytest.raises(ChurnlabError, match="1 to 6 findings"):
        executive_summary("q", "a", [f"f{i}" for i in range(n)], show=False)


def test_readable_table_has_no_index_and_formats_each_column_by_kind():
    df = pd.DataFrame({"segment": ["B2B", "<i>B2C</i>"], "churn_rate": [0.05123, 0.0712], "n": [3526, 120],
                       "p": [0.0004, 0.2], "first": pd.to_datetime(["2024-01-01 00:00", "2024-02-03 10:30"])},
                      index=[17, 42])
    t = readable_table(df)
    html = t._repr_html_()
    assert ">17<" not in html and ">42<" not in html  # no index column
    assert "5.1%" in html and "3,526" in html and "&lt; 0.001" in html
    assert "2024-01-01<" in html and "00:00:00" not in html
    assert "&lt;i&gt;B2C&lt;/i&gt;" in html  # data values are escaped
    assert "churn rate" in html  # readable header


def test_a_wide_table_keeps_its_first_columns_in_the_page_and_the_whole_as_an_artifact(tmp_path, monkeypatch):
    monkeypatch.setenv("CHURNLAB_RUN_DIR", str(tmp_path))
    wide = pd.DataFrame({f"col_{i}": [i, i + 1] for i in range(14)})
    with pytest.raises(ChurnlabError, match="give name="):
        readable_table(wide)
    t = readable_table(wide, name="wide.csv", max_columns=6)
    assert len(t.shown) == 6
    assert "14 columns" in t._repr_html_()
    assert pd.read_csv(tmp_path / "wide.csv").shape == (2, 14)


def _records(folder):
    nb = NotebookRecord(name="00_overview", source="notebooks/00_overview.ipynb", status="FINISHED",
                        executed="00_overview.ipynb", report="00_overview.html", metrics={"customers": 10.0})
    run = RunRecord(name=folder.name, spec_name="demo", spec_path="experiments/demo.yaml",
                    started="2026-01-02T03:04:05", status="FINISHED", notebooks=(nb,), folder=str(folder),
                    key_metrics=("customers",))
    return run, nb


def test_the_report_opens_with_the_summary_whichever_cell_computed_it(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    summary = executive_summary("Who leaves?", "B2C customers, at 7.1% a month.", ["finding one"], show=False)
    cells = [
        nbformat.v4.new_markdown_cell("# Overview\n\nA question."),
        nbformat.v4.new_code_cell("x", execution_count=1, outputs=[
            nbformat.v4.new_output("display_data", data={"text/markdown": "**Finding:** body text"})]),
        nbformat.v4.new_code_cell("summary", execution_count=2, outputs=[
            nbformat.v4.new_output("display_data", data={"text/markdown": summary.markdown()},
                                   metadata={SUMMARY_ROLE[0]: SUMMARY_ROLE[1]})]),
    ]
    executed = folder / "00_overview.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=cells), str(executed))
    run, nb = _records(folder)
    page = render_notebook(executed, folder / nb.report, run, nb).read_text()
    assert page.count("B2C customers, at 7.1% a month.") == 1  # moved, not copied
    assert page.index("B2C customers") < page.index("Key numbers") < page.index("body text")
    assert page.index("body text") < page.index("About this run")  # provenance folded at the end


def test_pop_summary_leaves_a_notebook_without_summary_alone():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x", outputs=[
        nbformat.v4.new_output("display_data", data={"text/markdown": "hi"})])])
    assert pop_summary(nb) == ""
    assert len(nb.cells[0].outputs) == 1


def test_a_guessed_key_metric_format_fits_its_value_not_just_its_name():
    from churnlab.present import key_metric

    # "churn" in the name suggests a share, but 30,658,510 (money a churn cut brings) is no share:
    # the report showed it as "3065850962.9%" before the value was consulted
    assert key_metric("churn_cut_revenue_gain", 30658510.0).text(30658510.0) == "30,658,510"
    assert key_metric("churn_rate_horizon", 0.073).text(0.073) == "7.3%"
    assert key_metric("churn_rate_horizon").format == "percent"  # no value: the name decides
