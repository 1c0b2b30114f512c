"""Reports: offline HTML without code, a header with parameters and key numbers, failures, the index."""

from __future__ import annotations

import base64
import re

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
        "[&quot;B2B&quot;, &quot;B2C&quot;]",
        "26.5%",  # the spec's key metric churn_rate=0.26537, labelled and written as a percent
        "Churn rate",
    ):
        assert shown in page, shown
    # only the spec's key numbers get a card (customers is not one); raw ids never label a card
    assert ">7,043<" not in page and 'cl-name">churn_rate<' not in page


def test_a_failed_notebook_report_names_and_shows_the_failing_cell(tmp_path):
    run, nb = _records(tmp_path, status="FAILED")
    executed = _executed(tmp_path / nb.executed, fail=True)
    failure = failed_cell(executed)
    assert (failure.index, failure.execution_count, failure.ename) == (3, 3, "ValueError")
    page = render_notebook(executed, tmp_path / nb.report, run, nb).read_text()
    assert "Failed at cell 3 (In [3]): ValueError: boom" in page
    assert "raise ValueError(&#x27;boom&#x27;)" in page
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
    assert 'href="demo_a/00_overview.html"' in page and "Churn rate 30.0%" in page  # labelled, in its unit
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


# ------------------------------------------------------------------------------------------------
# security: no executable content beyond the report's own, whatever a notebook printed

SCRIPT = "<script>document.title='x'</script>"
IMG = "<img src=x onerror=alert(1)>"
#: Code in raw markup: a script tag, an event attribute inside a tag, a script URL.
RAW_CODE = re.compile(r"<script|<[a-z][^>]*\son[a-z]+\s*=|(?:javascript|vbscript):|data:text/html|<iframe|<object|<embed"
                      r"|<base|http-equiv=.refresh|\sformaction=", re.I)


def executable_content(page: str) -> list[str]:
    """List what could run in ``page``, parsed independently of churnlab.sanitize (BeautifulSoup)."""
    bs4 = pytest.importorskip("bs4")
    soup = bs4.BeautifulSoup(page, "html.parser")
    found = [f"<{t.name}>" for t in soup.find_all(["script", "iframe", "frame", "object", "embed", "applet", "base"])]
    found += [f"meta refresh {m}" for m in soup.find_all("meta") if str(m.get("http-equiv", "")).lower() == "refresh"]
    for tag in soup.find_all(True):
        for name, value in tag.attrs.items():
            text = " ".join(value) if isinstance(value, list) else str(value)
            squashed = "".join(text.split()).lower()
            if name.lower().startswith("on"):
                found.append(f"{tag.name}[{name}]")
            if squashed.startswith(("javascript:", "vbscript:", "data:text/html")):
                found.append(f"{tag.name}[{name}]={text[:30]}")
    return found


def policy_of(page: str) -> str:
    bs4 = pytest.importorskip("bs4")
    metas = bs4.BeautifulSoup(page, "html.parser").find_all("meta", attrs={"http-equiv": "Content-Security-Policy"})
    assert len(metas) == 1, "exactly one Content-Security-Policy meta tag"
    return metas[0]["content"]


@pytest.mark.parametrize("payload", [
    SCRIPT,
    IMG,
    '<a href="javascript:alert(1)">click</a>',
    '<a href=" JaVa&#x09;ScRiPt:alert(1)">tab inside the scheme</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">data page</a>',
    '<iframe srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;"></iframe><object data="x.swf"></object><embed src="x">',
    '<base href="https://evil.example/"><meta http-equiv="refresh" content="0;url=https://evil.example/">',
    '<svg onload="alert(1)"><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
    '<svg><style><img src=x onerror=alert(1)></style></svg>',
    '<form action="javascript:alert(1)"><button formaction="javascript:alert(1)">go</button></form>',
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></p></noscript>',
    '<scr<script>ipt>alert(1)</script>',
    '<div style="x" OnMouseOver="alert(1)">hover</div><body onload=alert(1)>',
    '<script src="https://cdn.example/x.js"></script><link rel="import" href="https://evil.example/x.html">',
])
def test_sanitizing_removes_every_way_markup_can_run_code(payload):
    from churnlab.sanitize import sanitize_html

    page = f"<!DOCTYPE html><html><head><title>t</title></head><body><p>before</p>{payload}<p>after</p></body></html>"
    out = sanitize_html(page)
    assert RAW_CODE.search(page) or executable_content(page), "the payload carries code"  # so the test can fail
    assert executable_content(out) == []
    # and no raw tag with an event attribute or script anywhere, even in text a browser might parse as markup
    # (an SVG <style>, <noscript>): churnlab escapes every "<" outside CSS
    assert RAW_CODE.search(out) is None, RAW_CODE.search(out)
    assert "script-src 'none'" in policy_of(out)
    assert "<p>before</p>" in out and "<p>after</p>" in out  # the rest of the page stays


def test_sanitizing_keeps_what_a_report_shows():
    from churnlab.sanitize import sanitize_html

    body = (f'<table class="dataframe"><tr><th>segment</th></tr><tr><td>B2B &amp; SMB</td></tr></table>'
            f'<img alt="fig" src="data:image/png;base64,{PNG}"><a href="https://example.com/doc?a=1&amp;b=2">doc</a>'
            '<style scoped>.dataframe td { text-align: right; }</style><p style="color: red">note</p>'
            '<svg viewBox="0 0 2 2"><circle cx="1" cy="1" r="1"/></svg>')
    out = sanitize_html(f"<html><head><meta charset='utf-8'></head><body>{body}</body></html>")
    for kept in ("<td>B2B &amp; SMB</td>", f'src="data:image/png;base64,{PNG}"',
                 'href="https://example.com/doc?a=1&amp;b=2"', ".dataframe td { text-align: right; }",
                 'style="color: red"', '<circle cx="1" cy="1" r="1"/>', '<meta charset="utf-8">'):
        assert kept in out, kept


def test_the_policy_allows_exactly_the_reports_own_scripts_by_their_sha256():
    import base64 as b64
    import hashlib

    from churnlab.sanitize import sanitize_html

    own = "document.body.dataset.ready = '1';"
    page = f"<html><head></head><body><script>{own}</script>{SCRIPT}</body></html>"
    out = sanitize_html(page, allowed_scripts=[own])
    assert out.count("<script") == 1 and f"<script>{own}</script>" in out
    # the hash of the exact UTF-8 text, as CSP Level 3 "hash-source" defines it (computed here with hashlib)
    expected = "'sha256-" + b64.b64encode(hashlib.sha256(own.encode()).digest()).decode() + "'"
    policy = policy_of(out)
    assert f"script-src {expected};" in policy
    for directive in ("default-src 'none'", "img-src 'self' data:", "font-src data:", "base-uri 'none'",
                      "object-src 'none'", "frame-src 'none'", "form-action 'none'"):
        assert directive in policy, directive
    assert "http" not in policy and "unsafe-eval" not in policy


@pytest.fixture(scope="module")
def injected_report(tmp_path_factory):
    """A notebook fed markup through a parameter and through a data value, executed and rendered."""
    papermill = pytest.importorskip("papermill")
    from conftest import write_notebook

    folder = tmp_path_factory.mktemp("injected")
    csv = folder / "customers.csv"
    csv.write_text(f'customer_id,segment\nc1,"{SCRIPT}"\nc2,"{IMG}"\nc3,B2B\n', encoding="utf-8")
    source = write_notebook(
        folder / "source.ipynb", 'customers_csv = ""\nsegment_label = "segment"',
        "import pandas as pd\nfrom IPython.display import HTML, Markdown, display\ncustomers = pd.read_csv(customers_csv)",
        # what a careless notebook does: data values and a parameter straight into Markdown and HTML
        "display(Markdown(f'**{segment_label}**: the largest is ' + ', '.join(customers['segment'])))",
        "display(HTML('<ul>' + ''.join(f'<li>{s}</li>' for s in customers['segment']) + '</ul>'))",
        "customers",
    )
    parameters = {"customers_csv": str(csv), "segment_label": SCRIPT}
    executed = folder / "00_overview.ipynb"
    papermill.execute_notebook(str(source), str(executed), parameters=parameters, kernel_name="python3",
                               progress_bar=False)
    run, nb = _records(folder)
    nb = NotebookRecord(**{**nb.__dict__, "parameters": parameters})
    return render_notebook(executed, folder / nb.report, run, nb), executed


def test_markup_injected_through_a_parameter_and_a_data_value_cannot_run(injected_report):
    report, executed = injected_report
    raw = executed.read_text(encoding="utf-8")
    assert "<script>document.title" in raw and "onerror=alert(1)" in raw  # the notebook did print the markup
    page = report.read_text(encoding="utf-8")
    assert executable_content(page) == []
    assert "script-src 'none'" in policy_of(page)
    # the header shows the parameter as text a reader can see, not as markup
    assert "&lt;script&gt;document.title=&#x27;x&#x27;&lt;/script&gt;" in page
    assert "B2B" in page  # the harmless value still shows


def test_the_index_draws_each_specs_key_metrics_across_its_finished_runs(tmp_path):
    from churnlab.report import trend_table

    root = tmp_path / "runs"
    for i, (status, rate) in enumerate([("FINISHED", 0.05), ("FINISHED", 0.07), ("FAILED", 0.5)]):
        folder = root / f"weekly_{i}"
        folder.mkdir(parents=True)
        run, nb = _records(folder)
        nb = NotebookRecord(**{**nb.__dict__, "metrics": {"churn_rate": rate}})
        write_record(RunRecord(**{**run.__dict__, "name": folder.name, "spec_name": "weekly", "status": status,
                                  "started": f"2026-01-0{i + 1}T06:00:00", "notebooks": (nb,)}))
    trend = trend_table(list_runs(root))
    assert list(trend["value"]) == [0.05, 0.07]  # the failed run's number is not a trend point
    page = render_index(list_runs(root), root / "index.html").read_text()
    assert "weekly: key metrics across runs" in page and "data:image/png;base64," in page
