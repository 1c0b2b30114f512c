"""Reports: an executed notebook as one self-contained HTML page without code, and an index of runs.

A report opens offline: figures are embedded by nbconvert, and the CDN scripts its ``lab`` template
loads (require.js, MathJax, mermaid) are removed. Code is hidden, which also hides papermill's
injected parameters, so a header shows them with the run name, date, status, data fingerprint,
MLflow run ids and the notebook's logged metrics ("key numbers first"). A failed notebook's report
names the failing cell, shows its source and the error, and keeps the traceback output below.

Every page is passed through :func:`churnlab.sanitize.sanitize_html` last, whatever a notebook
printed: no script beyond the report's own allow-list (none today), no event attributes, no
``javascript:`` URLs, frames or plugins, and a Content-Security-Policy ``<meta>`` that enforces the
same in the browser (defence in depth behind the escaping of every value the header shows).
"""

from __future__ import annotations

import base64
import copy
import html
import io
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
from nbconvert.filters.markdown_mistune import markdown2html_mistune

from churnlab.present import SUMMARY_ROLE, KeyMetric, key_metric
from churnlab.record import NotebookRecord, RunRecord
from churnlab.sanitize import sanitize_html

__all__ = [
    "FailedCell", "failed_cell", "pop_summary", "trend_table", "render_notebook", "render_index",
    "strip_external_scripts", "INDEX_FILE",
]

INDEX_FILE = "index.html"

#: Key-number cards a report shows at most (issue 13: a reader takes in about eight).
_MAX_CARDS = 8

_EXTERNAL_SCRIPT = re.compile(r"<script\b[^>]*\bsrc\s*=\s*[\"']?(?:https?:)?//[^>]*>\s*</script>", re.I | re.S)
_SCRIPT_BLOCK = re.compile(r"<script\b[^>]*>(.*?)</script>", re.I | re.S)
_EXTERNAL_LINK = re.compile(r"<link\b[^>]*\bhref\s*=\s*[\"']?(?:https?:)?//[^>]*>", re.I | re.S)


@dataclass(frozen=True)
class FailedCell:
    """The first cell of an executed notebook whose output is an error."""

    index: int
    execution_count: int | None
    source: str
    ename: str
    evalue: str

    def __str__(self) -> str:
        return f"cell {self.index} (In [{self.execution_count}]): {self.ename}: {self.evalue}"


def failed_cell(notebook: Any) -> FailedCell | None:
    """Return the first code cell with an ``error`` output, ``None`` when the notebook ran through.

    Parameters
    ----------
    notebook : NotebookNode or str or Path
        An executed notebook or its file.
    """
    nb = nbformat.read(str(notebook), as_version=4) if isinstance(notebook, (str, Path)) else notebook
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return FailedCell(
                    index=index,
                    execution_count=cell.get("execution_count"),
                    source=cell.source,
                    ename=str(output.get("ename", "")),
                    evalue=str(output.get("evalue", "")),
                )
    return None


def strip_external_scripts(page: str) -> str:
    """Remove every script and stylesheet that would be fetched from the network.

    Drops ``<script src="http...">`` and ``<link href="http...">`` tags and inline scripts that
    reference a URL (the lab template's mermaid module imports from a CDN) or configure MathJax,
    which is no longer loaded.
    """
    page = _EXTERNAL_SCRIPT.sub("", page)
    page = _EXTERNAL_LINK.sub("", page)

    def _inline(match: re.Match[str]) -> str:
        body = match.group(1)
        if re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", body, re.I) or "MathJax" in body:
            return ""
        return match.group(0)

    return _SCRIPT_BLOCK.sub(_inline, page)


def _css() -> str:
    return resources.files("churnlab").joinpath("templates/report.css").read_text(encoding="utf-8")


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _param(value: Any) -> str:
    return json.dumps(value) if isinstance(value, (list, dict)) else str(value)


def _key_metrics(run: RunRecord, names: Iterable[str], values: dict | None = None) -> list[KeyMetric]:
    """Return the spec's labelled key metrics for ``names`` (others get a format guessed from name and value)."""
    values = values or {}
    return [key_metric(dict(run.key_metric_formats[n])) if n in run.key_metric_formats
            else key_metric(n, values.get(n)) for n in names]


def _cards(run: RunRecord, notebook: NotebookRecord) -> str:
    """Cards of the notebook's key numbers: its own ``key_metrics``, else the spec's, else its first; at most eight."""
    names = notebook.key_metrics or run.key_metrics or tuple(notebook.metrics)[:_MAX_CARDS]
    shown = [m for m in _key_metrics(run, names, notebook.metrics) if m.name in notebook.metrics][:_MAX_CARDS]
    if not shown:
        return ""
    cards = "".join(
        f'<div class="cl-card"><div class="cl-value">{_e(m.text(notebook.metrics[m.name]))}</div>'
        f'<div class="cl-name">{_e(m.label)}</div></div>'
        for m in shown
    )
    return f'<h3>Key numbers</h3><div class="cl-cards">{cards}</div>'


def _run_details(run: RunRecord, notebook: NotebookRecord) -> str:
    """Return the run's provenance and parameters, folded at the end of the page."""
    prov = run.provenance
    commit = prov.get("git.commit", "unknown")
    dirty = " (uncommitted changes)" if prov.get("git.dirty") == "true" else ""
    seconds = f"{notebook.seconds:.1f} s" if notebook.seconds is not None else "-"
    data = f"{run.data_source} " + " ".join(f"{k}={v}" for k, v in run.data_settings.items() if k != "config")
    meta = [
        ("run", run.name),
        ("date", run.started.replace("T", " ")[:19]),
        ("notebook", f"{notebook.name} ({seconds})"),
        ("data", data.strip()),
        ("data fingerprint", run.fingerprint or "-"),
        ("MLflow run", f"{notebook.run_id or '-'} (parent {run.parent_run_id or '-'}, experiment {run.spec_name})"),
        ("tracking store", run.tracking_uri or "-"),
        ("code", f"churnlab {prov.get('churnlab.version', '?')}, git {commit[:12]}{dirty}"),
    ]
    rows = "".join(f"<tr><td>{_e(k)}</td><td><code>{_e(v)}</code></td></tr>" for k, v in meta)
    params = "".join(
        f"<tr><td><code>{_e(k)}</code></td><td><code>{_e(_param(v))}</code></td></tr>"
        for k, v in notebook.parameters.items()
    )
    return (
        '<details class="cl-details"><summary>About this run: data, code, parameters</summary>'
        f'<table class="cl-meta">{rows}</table><h3>Parameters</h3>'
        + (f'<table class="cl-params">{params}</table>' if params else "<p><em>none</em></p>")
        + "</details>"
    )


def _header(run: RunRecord, notebook: NotebookRecord, failure: FailedCell | None, summary_html: str = "") -> str:
    error = ""
    if notebook.status == "FAILED":
        detail = (
            f"<p><strong>Failed at {_e(failure)}</strong></p><pre>{_e(failure.source)}</pre>"
            if failure is not None
            else f"<p><strong>Failed:</strong> {_e(notebook.error or 'see the output below')}</p>"
        )
        error = f'<div class="cl-error">{detail}<p>The traceback is in the cell output below.</p></div>'
    elif notebook.status in ("KILLED", "RUNNING"):
        error = (f'<div class="cl-error"><p><strong>This notebook did not finish ({_e(notebook.status)}).</strong> '
                 "The page shows what it computed before it stopped.</p></div>")
    return (
        '<div class="cl-header">'
        f'<h1>{_e(run.spec_name)} · {_e(notebook.name)} <span class="cl-status cl-{_e(notebook.status)}">'
        f"{_e(notebook.status)}</span></h1>"
        + (f'<p class="cl-desc">{_e(run.description)}</p>' if run.description else "")
        + error
        + (f'<div class="cl-summary">{summary_html}</div>' if summary_html else "")
        + _cards(run, notebook)
        + "</div>"
    )


def pop_summary(nb: nbformat.NotebookNode) -> str:
    """Remove the executive summary output from ``nb`` and return its Markdown ("" when it has none).

    The summary is the display output whose metadata carries :data:`churnlab.present.SUMMARY_ROLE`; the
    report shows it first, whichever cell computed it.
    """
    key, role = SUMMARY_ROLE
    found = ""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "display_data" and out.get("metadata", {}).get(key) == role and not found:
                found = out.get("data", {}).get("text/markdown", "")
            else:
                kept.append(out)
        cell.outputs = kept
    return found


def without_stderr(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Return a copy of ``nb`` without stderr streams (library warnings, progress bars).

    A reader of the report needs findings, not ``TqdmWarning``; errors are ``error`` outputs, not
    stderr streams, so a failing cell still shows its traceback.
    """
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            outputs = cell.get("outputs", [])
            cell.outputs = [o for o in outputs if not (o.output_type == "stream" and o.name == "stderr")]
    return nb


def render_notebook(executed: str | Path, target: str | Path, run: RunRecord, notebook: NotebookRecord) -> Path:
    """Render an executed notebook to one self-contained HTML file with code hidden and a run header.

    Parameters
    ----------
    executed : str or Path
        The executed ``.ipynb`` (papermill's output).
    target : str or Path
        The HTML file to write.
    run, notebook : RunRecord, NotebookRecord
        What the header shows (status, parameters, metrics, fingerprint, run ids).

    Returns
    -------
    Path
        ``target``, sanitized (:func:`churnlab.sanitize.sanitize_html`) with its Content-Security-Policy.
    """
    from nbconvert import HTMLExporter

    nb = without_stderr(nbformat.read(str(executed), as_version=4))
    summary = pop_summary(nb)
    summary_html = markdown2html_mistune(summary) if summary else ""
    exporter = HTMLExporter(template_name="lab", exclude_input=True, exclude_input_prompt=True)
    exporter.exclude_output_prompt = True
    resources_ = {"metadata": {"name": f"{run.spec_name} · {notebook.name}"}}
    page, _ = exporter.from_notebook_node(nb, resources=resources_)
    page = strip_external_scripts(page)
    style = f"<style>{_css()}</style>"
    page = page.replace("</head>", style + "</head>", 1)
    header = _header(run, notebook, failed_cell(nb), summary_html)
    page = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + header, page, count=1)
    details = _run_details(run, notebook)
    page = re.sub(r"(</body>)", lambda m: details + m.group(1), page, count=1)
    page = sanitize_html(page)
    path = Path(target)
    path.write_text(page, encoding="utf-8")
    return path


#: Metrics drawn per spec in the index's trend figure, and the fewest finished runs that make a trend.
_TREND_METRICS = 4
_TREND_MIN_RUNS = 2


def trend_table(runs: Iterable[RunRecord]) -> pd.DataFrame:
    """Return the key metrics of every finished run: ``spec, started, metric, label, format, value``.

    One row per run and key metric (the spec's ``key_metrics``, at most four per spec, the first notebook that
    logged each), the data of the index's trend figure.
    """
    rows = []
    for run in runs:
        if run.status != "FINISHED":
            continue
        values = run.headline()
        for m, v in list(zip(_key_metrics(run, values, values), values.values(), strict=True))[:_TREND_METRICS]:
            rows.append({"spec": run.spec_name, "started": pd.Timestamp(run.started), "metric": m.name,
                         "label": m.label, "format": m.format, "value": float(v)})
    return pd.DataFrame(rows, columns=["spec", "started", "metric", "label", "format", "value"])


def _trend_figures(runs: list[RunRecord]) -> str:
    """Inline PNG figures of each spec's key metrics across its finished runs ("" when no spec has a trend)."""
    table = trend_table(runs)
    if table.empty:
        return ""
    from churnlab.plots.overview import plot_metric_trends

    parts = []
    for spec, frame in table.groupby("spec", sort=True):
        if frame["started"].nunique() < _TREND_MIN_RUNS:
            continue
        fig = plot_metric_trends(frame, title=f"{spec}: key metrics over {frame['started'].nunique()} runs")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
        import matplotlib.pyplot as plt

        plt.close(fig)
        data = base64.b64encode(buffer.getvalue()).decode()
        parts.append(f'<figure><img alt="{_e(spec)}: key metrics across runs" src="data:image/png;base64,{data}">'
                     "</figure>")
    return f'<h2>Trends</h2>{"".join(parts)}' if parts else ""


def render_index(runs: Iterable[RunRecord], target: str | Path) -> Path:
    """Write the index page: one row per run (newest first) with status, key metrics and report links.

    Parameters
    ----------
    runs : iterable of RunRecord
        The runs to list (see :func:`churnlab.record.list_runs`).
    target : str or Path
        The HTML file to write, normally ``runs/index.html``; links are relative to its folder.
    """
    target = Path(target)
    runs = list(runs)
    rows = []
    for run in sorted(runs, key=lambda r: (r.started, r.name), reverse=True):
        folder = Path(run.folder)
        try:
            prefix = folder.relative_to(target.parent.resolve()).as_posix()
        except ValueError:
            prefix = folder.as_uri()
        links = " ".join(
            f'<a href="{_e(prefix)}/{_e(nb.report)}">{_e(nb.name)}</a>'
            if nb.report
            else f'<span title="{_e(nb.status)}">{_e(nb.name)}</span>'
            for nb in run.notebooks
        )
        headline = run.headline()
        metrics = ", ".join(f"{_e(m.label)} {_e(m.text(v))}" for m, v in
                            zip(_key_metrics(run, headline, headline), headline.values(), strict=True))
        rows.append(
            f"<tr><td><code>{_e(run.name)}</code></td><td>{_e(run.started.replace('T', ' ')[:19])}</td>"
            f'<td><span class="cl-status cl-{_e(run.status)}">{_e(run.status)}</span></td>'
            f"<td>{_e(run.data_source)} <code>{_e((run.fingerprint or '-')[:12])}</code></td>"
            f"<td>{metrics or '-'}</td><td>{links}</td></tr>"
        )
    body = "".join(rows) or '<tr><td colspan="6"><em>No runs yet: churnlab run experiments/demo.yaml</em></td></tr>'
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>churnlab runs</title>'
        f'<style>{_css()}</style></head><body><div class="cl-index-page"><h1>churnlab runs</h1>'
        + _trend_figures(runs)
        + '<h2>Runs</h2><table class="cl-index"><tr><th>run</th><th>date</th><th>status</th><th>data</th>'
        f"<th>key metrics</th><th>reports</th></tr>{body}</table></div></body></html>"
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")  # concurrent runs each rewrite the index
    tmp.write_text(sanitize_html(page), encoding="utf-8")
    os.replace(tmp, target)
    return target
