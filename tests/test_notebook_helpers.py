"""churnlab.notebook: findings are escaped, files go to the run folder or scratch/, figures are logged and closed.

Also holds :func:`run_notebook`, which the notebook tests (``test_notebook_0*.py``) use to run one
committed notebook under ``churnlab run`` in an isolated project and read what it logged.
"""

from __future__ import annotations

import html.parser
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402
from conftest import REPO  # noqa: E402

from churnlab import tracking  # noqa: E402
from churnlab.errors import ChurnlabError, DataSourceError  # noqa: E402
from churnlab.notebook import (  # noqa: E402
    RUN_DIR_ENV,
    column_summary,
    escape,
    finding,
    input_path,
    open_data,
    output_path,
    problem_table,
    save_list,
    show_figure,
)
from churnlab.schema import Problem, ValidationReport  # noqa: E402

INJECTION = "<script>document.title='pwned'</script> *bold* _em_ [link](javascript:alert(1)) <img src=x onerror=alert(2)>"


# --- shared by the notebook tests ----------------------------------------------------------------------


def run_notebook(project: Path, stem: str, data: dict[str, Any], parameters: dict[str, Any] | None = None):
    """Run ``notebooks/<stem>.ipynb`` of this repository under ``churnlab run`` in ``project``.

    Returns the run record and the notebook's record (status, logged metrics, MLflow run id); fails
    the test with the notebook's error when it did not finish.
    """
    pytest.importorskip("papermill")
    from churnlab.runner import run

    spec = {"name": f"t{stem[:2]}", "data": data, "parameters": parameters or {},
            "notebooks": [{"path": str(REPO / "notebooks" / f"{stem}.ipynb")}]}
    path = project / "experiments" / f"{stem}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    record = run(path, runs_root=project / "runs")
    notebook = record.notebooks[0]
    assert notebook.status == "FINISHED", notebook.error
    return record, notebook


def artifact(notebook, name: str, folder: Path) -> Path:
    """Download artifact ``name`` of the notebook's MLflow run into ``folder``."""
    return Path(tracking.client().download_artifacts(notebook.run_id, name, str(folder)))


def report_text(record, notebook) -> str:
    """The notebook's HTML report as text."""
    return (Path(record.folder) / notebook.report).read_text(encoding="utf-8")


class _Elements(html.parser.HTMLParser):
    """Collect every element's tag, attributes and the text inside ``<script>`` elements."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data


def executable_content(page: str) -> list[str]:
    """What in ``page`` could run script that the injection put there: script bodies, on* attributes, javascript: URLs.

    The report's own scripts (nbconvert's and the report's) are allowed; a script element whose body
    holds the injected code, any ``on*`` attribute and any ``javascript:`` URL are listed.
    """
    parser = _Elements()
    parser.feed(page)
    found = [f"<script>{body[:60]}" for body in parser.scripts if "pwned" in body or "alert(" in body]
    for tag, attrs in parser.tags:
        found += [f"<{tag} {k}=...>" for k in attrs if k.lower().startswith("on")]
        found += [f"<{tag} {k}={v}>" for k, v in attrs.items() if v and v.strip().lower().startswith("javascript:")]
    return found


def markdown_to_html(text: str) -> str:
    """Render Markdown as the report does (nbconvert's mistune renderer)."""
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    return markdown2html_mistune(text)


# --- finding -----------------------------------------------------------------------------------------


def test_a_finding_shows_script_markup_from_the_data_as_text_and_runs_nothing():
    shown = finding("the largest group, {group}, holds {share:.1%}.", group=INJECTION, share=0.6021)
    page = markdown_to_html(shown.markdown)
    assert executable_content(page) == []
    assert "<script" not in page and "<img" not in page and "<a " not in page
    assert "&lt;script&gt;document.title=" in page  # shown to the reader as the literal text
    assert "holds 60.2%." in page


def test_markdown_in_a_value_is_not_interpreted_but_the_template_s_own_markdown_is():
    page = markdown_to_html(finding("**{name}** is {kind}.", prefix="", name="*B2C* _x_ [a](b) `c` # d", kind="x").markdown)
    assert page.count("<strong>") == 1  # the template's bold around the name, nothing from the value
    assert "<em>" not in page and "<a " not in page and "<code>" not in page and "<h1>" not in page
    assert "*B2C* _x_ [a](b) `c` # d" in page  # the value reads as typed


def test_escape_makes_every_markdown_and_html_special_character_literal():
    assert escape("<b>&'\"") == "&lt;b&gt;&amp;&#x27;&quot;"
    assert escape("*_[]()`#+-!|~{}$\\") == r"\*\_\[\]\(\)\`\#\+\-\!\|\~\{\}\$\\"
    assert escape("two\nlines") == "two lines"  # a value cannot start a new Markdown block


def test_numbers_are_formatted_for_people_unless_the_template_says_how():
    text = finding("{n} rows, {amount} paid, {auc} AUC, {rate:.1%} churn, {missing} missing, {big}", prefix="",
                   n=1661707, amount=12774.4, auc=0.78834, rate=0.0783, missing=float("nan"), big=float("inf")).markdown
    assert text == "1,661,707 rows, 12,774 paid, 0.788 AUC, 7.8% churn, n/a missing, ∞"


def test_a_template_naming_a_value_that_was_not_given_is_a_one_line_error():
    with pytest.raises(ChurnlabError, match=r"names \{rate\} but no value of that name was given; given: \['n'\]"):
        finding("{n} customers churned at {rate:.1%}", n=3)


def test_a_finding_renders_as_markdown_in_a_notebook():
    shown = finding("{n} churned.", n=3)
    assert shown._repr_markdown_() == "**Finding:** 3 churned." == str(shown)


# --- files ---------------------------------------------------------------------------------------------


def test_output_path_is_the_run_folder_under_churnlab_run(project, tmp_path, monkeypatch):
    monkeypatch.setenv(RUN_DIR_ENV, str(tmp_path / "run"))
    assert output_path("at_risk.csv") == tmp_path / "run" / "at_risk.csv"
    assert output_path("lists/red.csv").parent.is_dir()


def test_output_path_is_the_git_ignored_scratch_folder_otherwise_never_notebooks(project, monkeypatch):
    monkeypatch.delenv(RUN_DIR_ENV, raising=False)
    monkeypatch.chdir(project / "notebooks")  # where JupyterLab runs a notebook
    assert output_path("at_risk.csv") == project / "scratch" / "at_risk.csv"
    assert "scratch/" in (REPO / ".gitignore").read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize("name", ["", "/tmp/x.csv", "../x.csv"])
def test_output_path_refuses_names_outside_its_folder(project, name):
    with pytest.raises(ChurnlabError, match="expected a relative file name"):
        output_path(name)


def test_a_file_written_by_one_notebook_is_found_by_the_next(project, monkeypatch):
    monkeypatch.delenv(RUN_DIR_ENV, raising=False)
    assert input_path("risk_scores.csv") == output_path("risk_scores.csv")
    assert input_path("/data/lists/risk.csv") == Path("/data/lists/risk.csv")


def test_save_list_writes_the_list_and_logs_it_as_a_run_artifact(project, tmp_path, monkeypatch):
    monkeypatch.setenv(RUN_DIR_ENV, str(tmp_path))
    written = save_list(pd.DataFrame({"customer_id": ["c1", "c2"], "zone": ["red", "amber"]}), "at_risk_test.csv")
    assert pd.read_csv(written)["customer_id"].tolist() == ["c1", "c2"]
    assert tracking.recorded()["artifacts"]["at_risk_test.csv"] == "file"


def test_show_figure_logs_the_figure_and_closes_it():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    assert show_figure(ax, "helper_line.png") == "helper_line.png"
    assert tracking.recorded()["artifacts"]["helper_line.png"] == "figure"
    assert not plt.fignum_exists(fig.number)
    with pytest.raises(TypeError, match="expected a matplotlib Figure or Axes"):
        show_figure("not a figure", "x.png")


# --- data and aggregates ----------------------------------------------------------------------------------


def test_open_data_opens_the_default_sample_shop_without_truth(project):
    dataset, truth = open_data("", default="data/samples/shop.yaml")
    assert dataset.name == "sample_shop" and len(dataset["customers"]) == 6 and truth is None


def test_open_data_opens_a_saved_synthetic_world_with_its_truth(tmp_path):
    from churnlab.data.synthetic import generate, save_world

    save_world(*generate(60, seed=3, start="2024-01-01", end="2024-03-31"), tmp_path / "world")
    dataset, truth = open_data(tmp_path / "world")
    assert dataset.name == "synthetic" and truth is not None and len(dataset["customers"]) == 60


def test_open_data_says_what_it_needs(project):
    with pytest.raises(DataSourceError, match="n_customers is needed"):
        open_data("")
    with pytest.raises(DataSourceError, match="data source 'nowhere'"):
        open_data("nowhere")


def test_the_column_summary_shows_no_customer_id_and_no_row():
    customers = pd.DataFrame({"customer_id": ["c001", "c002", "c003"], "segment": ["B2B", "B2C", "B2C"],
                              "monthly_fee": [19.0, 99.0, None]})
    summary = column_summary(customers)
    assert "c001" not in summary.to_string()
    by = summary.set_index("column")
    assert by.loc["customer_id", "distinct"] == 3 and by.loc["customer_id", "range"] == ""
    assert by.loc["segment", "range"] == "B2C (67%)"  # 2 of 3
    assert by.loc["monthly_fee", "filled"] == pytest.approx(2 / 3) and by.loc["monthly_fee", "range"] == "19 – 99"


def test_validation_problems_are_listed_without_example_keys_unless_asked():
    report = ValidationReport("shop", (Problem("customers", "segment", "one of B2B, B2C", 2, ("c001", "c004")),))
    assert problem_table(report).to_dict("records") == [
        {"where": "customers.segment", "expected": "one of B2B, B2C", "rows": 2}]
    assert problem_table(report, show_examples=True)["examples"].tolist() == ["c001, c004"]
