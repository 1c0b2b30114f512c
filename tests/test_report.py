"""Reports: offline HTML without code, a header with parameters and key numbers, failures, the index."""

from __future__ import annotations

import base64

import nbformat
import pytest

from churnlab.record import NotebookRecord, RunRecord, list_runs, write_record
from churnlab.report import failed_cell, render_index, render_notebook, strip_external_scripts

# A 1x1 PNG, to check figures are embedded inline.
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360f8cf00000301010018dd8db00000000049454e44ae426082"
    )
).decode()


def _executed(path, *, fail: bool = False):
    cells = [
        nbformat.v4.new_markdown_cell("# Overview\n\nA question."),
        nbformat.v4.new_code_cell("secret_source_code = 1", execution_count=1),
        nbformat.v4.new_code_cell(
            "plot()",
            execution_count=2,
            outputs=[nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"})],
        ),
    ]
    if fail:
        cells.append(
            nbformat.v4.new_code_cell(
                "raise ValueError('boom')",
                execution_count=3,
                outputs=[
                    nbformat.v4.new_output("error", ename="ValueError", evalue="boom", traceback=["ValueError: boom"])
                ],
            )
        )
    nbformat.write(nbformat.v4.new_notebook(cells=cells), str(path))
    return path


def _records(folder, status="FINISHED"):
    nb = NotebookRecord(
        name="00_overview",
        source="notebooks/00_overview.ipynb",
        status=status,
        executed="00_overview.ipynb",
        report="00_overview.html",
        run_id="child123",
        parameters={"data_dir": "/data/x", "seed": 42, "segments": ["B2B", "B2C"]},
        metrics={"customers": 7043.0, "churn_rate": 0.26537},
        seconds=3.2,
    )
    run = RunRecord(
        name=folder.name,
        spec_name="demo",
        spec_path="experiments/demo.yaml",
        started="2026-01-02T03:04:05",
        status=status,
        data_source="telco",
        fingerprint="feedc0ffee123456",
        parent_run_id="parent456",
        key_metrics=("churn_rate",),
        notebooks=(nb,),
        folder=str(folder),
    )
    return run, nb


def test_a_report_opens_offline_hides_code_embeds_figures_and_shows_the_header(tmp_path):
    folder = tmp_path / "runs" / "demo_20260102-030405"
    folder.mkdir(parents=True)
    run, nb = _records(folder)
    page = render_notebook(_executed(folder / nb.executed), folder / nb.report, run, nb).read_text()
    assert '<script src="http' not in page.lower()
    assert "cdnjs" not in page
    assert "secret_source_code" not in page
    assert f"data:image/png;base64,{PNG[:20]}" in page
    for shown in (
        "demo_20260102-030405",
        "2026-01-02 03:04:05",
        "FINISHED",
        "feedc0ffee123456",
        "child123",
        "parent456",
        "seed",
        "42",
        '["B2B", "B2C"]',  # a list parameter as JSON text (quotes need no escaping in a text node)
        "7,043",
        "0.2654",
    ):
        assert shown in page, shown
    # key numbers first: the spec's key metric comes before the others
    assert page.index("churn_rate") < page.index(">customers<")


def test_a_failed_notebook_report_names_and_shows_the_failing_cell(tmp_path):
    run, nb = _records(tmp_path, status="FAILED")
    executed = _executed(tmp_path / nb.executed, fail=True)
    failure = failed_cell(executed)
    assert (failure.index, failure.execution_count, failure.ename) == (3, 3, "ValueError")
    page = render_notebook(executed, tmp_path / nb.report, run, nb).read_text()
    assert "Failed at cell 3 (In [3]): ValueError: boom" in page
    assert "<pre>raise ValueError('boom')</pre>" in page  # the source as text, not markup
    assert "secret_source_code" not in page


def test_a_notebook_that_ran_through_has_no_failed_cell(tmp_path):
    assert failed_cell(_executed(tmp_path / "ok.ipynb")) is None


@pytest.mark.parametrize(
    "tag",
    [
        '<script src="https://cdnjs.cloudflare.com/ajax/libs/require.js/2.1.10/require.min.js"></script>',
        "<script src='http://example.com/x.js' type='text/javascript'></script>",
        '<script type="module">import m from "https://cdnjs.cloudflare.com/mermaid.mjs";</script>',
        '<script type="text/x-mathjax-config">MathJax.Hub.Config({});</script>',
        '<link rel="stylesheet" href="https://fonts.example.com/a.css">',
    ],
)
def test_external_scripts_and_stylesheets_are_stripped(tag):
    page = f"<html><head>{tag}<script>var local = 1;</script></head><body>x</body></html>"
    out = strip_external_scripts(page)
    assert "http" not in out and "MathJax" not in out
    assert "<script>var local = 1;</script>" in out


def test_the_index_lists_runs_newest_first_with_status_metrics_and_links(tmp_path):
    root = tmp_path / "runs"
    for name, started, rate in [("demo_a", "2026-01-01T00:00:00", 0.2), ("demo_b", "2026-01-02T00:00:00", 0.3)]:
        (root / name).mkdir(parents=True)
        run, nb = _records(root / name)
        nb = NotebookRecord(**{**nb.__dict__, "metrics": {"churn_rate": rate}})
        write_record(RunRecord(**{**run.__dict__, "name": name, "started": started, "notebooks": (nb,)}))
    page = render_index(list_runs(root), root / "index.html").read_text()
    assert page.index("demo_b") < page.index("demo_a")
    assert 'href="demo_a/00_overview.html"' in page and "churn_rate=0.3" in page
    assert "<script" not in page


def test_the_report_drops_library_warnings_but_keeps_tracebacks():
    import nbformat

    from churnlab.report import without_stderr

    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stderr", text="TqdmWarning: IProgress not found"),
        nbformat.v4.new_output("stream", name="stdout", text="42 customers"),
        nbformat.v4.new_output("error", ename="ValueError", evalue="boom", traceback=["ValueError: boom"]),
    ]
    nb = nbformat.v4.new_notebook(cells=[cell])
    kept = [o.output_type for o in without_stderr(nb).cells[0].outputs]
    assert kept == ["stream", "error"] and without_stderr(nb).cells[0].outputs[0].name == "stdout"
    assert len(nb.cells[0].outputs) == 3  # the executed notebook itself is untouched


@pytest.mark.parametrize(("value", "shown"), [(7043.0, "7,043"), (-12773.97, "-12,774"), (0.26537, "0.2654"),
                                              (0.005308, "0.005308"), (3.0, "3"), (float("nan"), "NaN")])
def test_key_numbers_are_formatted_for_people(value, shown):
    from churnlab.report import _number

    assert _number(value) == shown
