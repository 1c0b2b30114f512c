"""Command line: a thin layer over the library (``churnlab --help``).

Exit codes: 0 success; 1 a notebook failed (``run``) or an unforeseen error; 2 bad spec or input
(one red ``error:`` line, or every problem of the data one per line); 3 an alert fired (``score``);
130 interrupted (Ctrl-C); 143 terminated (SIGTERM).
"""

from __future__ import annotations

import signal
import sys
import textwrap
from pathlib import Path

import click

from churnlab.errors import ChurnlabError


class _Group(click.Group):
    """A click group that turns churnlab's own errors into one red line and exit code 2."""

    def invoke(self, ctx: click.Context):  # noqa: D102
        try:
            return super().invoke(ctx)
        except ChurnlabError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="churnlab")
def main() -> None:
    """churnlab: a research workbench for customer churn."""


@main.group(cls=_Group)
def data() -> None:
    """List, describe, validate and generate datasets."""


@data.command("list")
def data_list() -> None:
    """List the data sources a spec may name, each with its settings (type, default, meaning)."""
    from churnlab.data import SOURCES

    for entry in SOURCES.values():
        click.echo(f"{entry.name:<10} {entry.description}" + ("" if entry.settings else " (no settings)"))
        for setting in (s for s in entry.settings if not s.group):
            line = f"{'':<12}{setting.name:<10} {setting.describe():<30} {setting.help}"
            click.echo(line.rstrip())
        for group in dict.fromkeys(s.group for s in entry.settings if s.group):
            members = [s for s in entry.settings if s.group == group]
            kinds = "/".join(dict.fromkeys(s.kind for s in members))
            click.echo(f"{'':<12}{group:<10} {kinds}, name=default:")
            text = ", ".join(f"{s.name}={s.default}" for s in members)
            click.echo(textwrap.fill(text, width=110, initial_indent=" " * 23, subsequent_indent=" " * 23))
    click.echo("churnlab data describe|validate also take a files config (.yaml) or a folder written by Dataset.save.")


def _unexpected(what: str, exc: Exception) -> None:
    """One red line for an error churnlab did not foresee (a bug to report), never a traceback."""
    click.secho(f"error: {what} failed unexpectedly: {type(exc).__name__}: {exc}", fg="red", err=True)
    sys.exit(1)


@data.command("describe")
@click.argument("source")
def data_describe(source: str) -> None:
    """Describe SOURCE (a name, a files config or a dataset folder): tables, rows, dates, churn rate.

    The data is validated first: any problem is listed instead (exit 2), as `data validate` does.
    """
    from churnlab.data import load
    from churnlab.data.summary import overall_churn_rate, summarize

    ds = load(source)
    try:
        table = summarize(ds)
        for col in ("first", "last"):
            table[col] = table[col].dt.date.astype("string").fillna("-")
        rate = overall_churn_rate(ds)
    except ChurnlabError:
        raise
    except Exception as exc:  # noqa: BLE001 - describe never shows a traceback
        _unexpected(f"describing {source}", exc)
    click.echo(f"{ds.name}: {ds.description or ds.source}")
    click.echo(f"source: {ds.source}\nas_of: {ds.as_of.date()}  kind: {ds.kind}  fingerprint: {ds.fingerprint}")
    click.echo(table.to_string(index=False))
    click.echo(f"churn rate: {rate:.1%}" if rate is not None else "churn rate: defined by a label window (see labels)")


@data.command("validate")
@click.argument("source")
def data_validate(source: str) -> None:
    """Validate SOURCE against the canonical schema; list every problem and exit 2 if there is any."""
    from churnlab.data import load
    from churnlab.schema import validate

    try:
        report = validate(load(source, validate=False))
    except ChurnlabError:
        raise
    except Exception as exc:  # noqa: BLE001 - validate never shows a traceback
        _unexpected(f"validating {source}", exc)
    if report.ok:
        click.echo(str(report))
        return
    click.secho(f"error: {report}", fg="red", err=True)
    sys.exit(2)


@data.command("init")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("-o", "--out", type=click.Path(path_type=Path), default=None, help="Config file [FOLDER/churnlab.yaml].")
@click.option("--name", default=None, help="Dataset name [the folder's name].")
@click.option("--force", is_flag=True, help="Replace an existing config.")
def data_init(folder: Path, out: Path | None, name: str | None, force: bool) -> None:
    """Scaffold a files config from FOLDER's CSV/Parquet files; every guess is marked for review."""
    from churnlab.data.scaffold import scaffold_config, write_config

    try:
        scaffold = scaffold_config(folder, name=name)
        path = write_config(scaffold, out or folder / "churnlab.yaml", overwrite=force)
    except ChurnlabError:
        raise
    except Exception as exc:  # noqa: BLE001 - init never shows a traceback
        _unexpected(f"scaffolding {folder}", exc)
    tables = ", ".join(f"{t.table} <- {t.file}" for t in scaffold.tables) or "none"
    click.echo(f"wrote {path} ({scaffold.kind}): {tables}")
    for line in scaffold.problems():
        click.echo(f"  not mapped: {line}")
    click.echo(f"review every '# review:' line, then: churnlab data validate {path}")


@data.command("generate")
@click.option("--customers", "n_customers", type=int, default=10_000, show_default=True, help="Number of customers.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("--start", default="2024-01-01", show_default=True, help="First day of the simulated period.")
@click.option("--end", default="2024-12-31", show_default=True, help="Last day of the simulated period.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder to write Parquet tables to.")
@click.option("--stream/--in-memory", default=None,
              help="Stream chunk by chunk to Parquet (default: past 200,000 customers) or build in memory first.")
def data_generate(n_customers: int, seed: int, start: str, end: str, out: Path, stream: bool | None) -> None:
    """Generate the synthetic world and write its tables and truth as Parquet to OUT.

    The folder is what a spec's ``data: {path: OUT}`` or ``churnlab run`` reads; a streamed world's big
    tables stay on disk and are read by DuckDB where they lie.
    """
    from churnlab.data.synthetic import generate, load_world, save_world
    from churnlab.data.synthetic.build import STREAM_CUSTOMERS, stream_world

    if n_customers < 1:
        raise click.BadParameter(f"must be a positive number of customers; got {n_customers}", param_hint="--customers")
    if stream is None:
        stream = n_customers > STREAM_CUSTOMERS
    if stream:
        stream_world(out, n_customers, start=start, end=end, seed=seed, progress=True)
        dataset, _truth = load_world(out)
    else:
        dataset, truth = generate(n_customers=n_customers, start=start, end=end, seed=seed, progress=True)
        save_world(dataset, truth, out)
    click.echo(f"wrote {dataset!r} to {out} (fingerprint {dataset.fingerprint})")


# --- experiments -------------------------------------------------------------------------------


def _echo_err(line: str) -> None:
    click.echo(line, err=True)


@main.command("run")
@click.argument("spec", type=click.Path(path_type=Path))
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a shared parameter (seed=1) or a data setting (data.customers=500); repeatable.",
)
@click.option("--check", is_flag=True, help="Validate the spec and print the plan; run nothing.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the final line.")
def run_cmd(spec: Path, params: tuple[str, ...], check: bool, quiet: bool) -> None:
    """Run the experiment SPEC (a YAML file in experiments/): every notebook, tracked in MLflow.

    Prepares the data once (cached in data/generated/), executes each notebook with papermill into
    runs/<name>_<timestamp>/, renders an HTML report per notebook and refreshes runs/index.html.
    Progress goes to stderr and to run.log in the run folder.

    Exit codes: 0 all notebooks finished; 1 a notebook failed (later ones skipped, MLflow runs
    marked FAILED); 2 bad spec or input (nothing ran); 130 interrupted (Ctrl-C) and 143 terminated
    (SIGTERM): the runs are marked KILLED, the partial notebook and its report are kept.
    """
    from churnlab.runner import exit_code, run_spec
    from churnlab.spec import load_spec, parse_override

    overrides = dict(parse_override(p) for p in params)
    parsed = load_spec(spec, overrides)
    if check:
        click.echo(f"spec {parsed.name}: ok; data {parsed.data.source} {dict(parsed.data.settings) or ''}")
        for nb in parsed.notebooks:
            shown = {k: v for k, v in parsed.parameters_for(nb, "<data_dir>").items()}
            click.echo(f"  {nb.stem}: {shown}")
        return
    try:
        record = run_spec(parsed, progress=None if quiet else _echo_err)
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        click.secho(f"interrupted by {signal.Signals(signum).name}: runs marked KILLED", fg="red", err=True)
        sys.exit(128 + signum)
    folder = Path(record.folder)
    click.echo(f"{record.status} {record.name} -> {folder}")
    sys.exit(exit_code(record))


@main.command("score")
@click.argument("spec", type=click.Path(path_type=Path))
@click.option("-p", "--param", "params", multiple=True, metavar="KEY=VALUE",
              help="Override a shared parameter or a data setting; repeatable.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the final lines.")
def score_cmd(spec: Path, params: tuple[str, ...], quiet: bool) -> None:
    """Run the weekly scoring spec SPEC (experiments/weekly.yaml): CRM lists, monitoring and alerts.

    Runs SPEC like `churnlab run` (its notebooks include 05_score_and_monitor), then reads the alerts the
    scoring notebook logged. Exit codes: 0 finished and no alert fired; 3 an alert fired (the lists are
    written all the same); 1 a notebook failed; 2 bad spec or input, or a spec without a scoring notebook;
    130 interrupted.
    """
    from churnlab.monitor.alerts import EXIT_ALERT
    from churnlab.runner import exit_code, run_spec
    from churnlab.spec import load_spec, parse_override

    parsed = load_spec(spec, dict(parse_override(p) for p in params))
    try:
        record = run_spec(parsed, progress=None if quiet else _echo_err)
    except KeyboardInterrupt:
        click.secho("interrupted: runs marked KILLED", fg="red", err=True)
        sys.exit(130)
    click.echo(f"{record.status} {record.name} -> {record.folder}")
    code = exit_code(record)
    if code:
        sys.exit(code)
    scoring = [nb for nb in record.notebooks if "alerts_checked" in nb.metrics]
    if not scoring:
        click.secho(f"error: spec {parsed.name!r} ran no scoring notebook (notebooks/05_score_and_monitor.ipynb); "
                    "expected one that logs alerts_checked", fg="red", err=True)
        sys.exit(2)
    fired = int(sum(nb.metrics.get("alerts_fired", 0) for nb in scoring))
    scored = int(sum(nb.metrics.get("n_scored", 0) for nb in scoring))
    click.echo(f"scored {scored:,} customers; {fired} alert(s) fired")
    if fired:
        sys.exit(EXIT_ALERT)


def _metrics_text(metrics: dict[str, float]) -> str:
    return "  ".join(f"{k}={v:.4g}" for k, v in metrics.items())


@main.command("list")
@click.option("--spec", "spec_name", default=None, help="Only runs of this spec (its name).")
@click.option("-n", "--limit", type=int, default=20, show_default=True, help="Newest N runs (0: all).")
def list_cmd(spec_name: str | None, limit: int) -> None:
    """List runs, newest last: name, date, status and key metrics (runs whose runner is gone: KILLED)."""
    from churnlab.lifecycle import mark_vanished_runs
    from churnlab.record import list_runs

    mark_vanished_runs()
    runs = [r for r in list_runs() if spec_name is None or r.spec_name == spec_name]
    if limit:
        runs = runs[-limit:]
    if not runs:
        click.echo("no runs yet: churnlab run experiments/demo.yaml")
        return
    width = max(len(r.name) for r in runs)
    for r in runs:
        date = r.started.replace("T", " ")[:16]
        click.echo(f"{r.name:<{width}}  {date}  {r.status:<8}  {_metrics_text(r.headline())}")


@main.command("report")
@click.argument("run", default="latest")
def report_cmd(run: str) -> None:
    """Render the HTML reports of RUN again (name, unique prefix, spec name or 'latest') and the index."""
    from churnlab.runner import rerender

    record = rerender(run)
    for nb in record.notebooks:
        if nb.report:
            click.echo(str(Path(record.folder) / nb.report))
    click.echo(str(Path(record.folder).parent / "index.html"))


@main.command("compare")
@click.argument("a")
@click.argument("b")
@click.option("--all", "show_all", is_flag=True, help="Also print values that are equal.")
def compare_cmd(a: str, b: str, show_all: bool) -> None:
    """Print the parameters, data and metrics that differ between runs A and B."""
    from churnlab.record import find_run

    ra, rb = find_run(a), find_run(b)
    click.echo(f"A = {ra.name} ({ra.status})\nB = {rb.name} ({rb.status})")

    def settings(r) -> dict[str, str]:
        out = {"data.source": r.data_source, "data.fingerprint": r.fingerprint or "-"}
        out.update({f"data.{k}": str(v) for k, v in r.data_settings.items()})
        out.update(
            {f"{nb.name}.{k}": str(v) for nb in r.notebooks for k, v in nb.parameters.items() if k != "data_dir"}
        )
        out["git.commit"] = r.provenance.get("git.commit", "unknown")[:12]
        return out

    sa, sb = settings(ra), settings(rb)
    rows = [(k, sa.get(k, "-"), sb.get(k, "-")) for k in dict.fromkeys([*sa, *sb])]
    rows = [row for row in rows if show_all or row[1] != row[2]]
    click.echo("parameters:" if rows else "parameters: identical")
    for k, va, vb in rows:
        click.echo(f"  {k}: {va} -> {vb}")
    ma, mb = ra.metrics, rb.metrics
    names = list(dict.fromkeys([*ma, *mb]))
    diff = [k for k in names if show_all or ma.get(k) != mb.get(k)]
    click.echo("metrics:" if diff else f"metrics: identical ({len(names)})")
    for k in diff:
        va, vb = ma.get(k), mb.get(k)
        delta = f"  ({vb - va:+.4g})" if va is not None and vb is not None else ""
        fa = "-" if va is None else f"{va:.6g}"
        fb = "-" if vb is None else f"{vb:.6g}"
        click.echo(f"  {k}: {fa} -> {fb}{delta}")


@main.command("ui")
@click.option("--port", type=int, default=5000, show_default=True, help="Port on 127.0.0.1.")
def ui_cmd(port: int) -> None:
    """Serve the MLflow UI for the project's tracking store on http://127.0.0.1:PORT (Ctrl-C stops).

    The server and its workers run in their own process group, stopped whole on Ctrl-C or SIGTERM.
    The project's experiments are marked as classic ML experiments first, so the UI opens on the runs table.
    """
    import os

    from churnlab import tracking
    from churnlab.lifecycle import serve

    uri = tracking.tracking_uri()
    tracking.mark_classic_experiments()  # also creates the store (under its lock) before the server opens it
    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--host", "127.0.0.1"]
    command += ["--port", str(port)]
    artifacts = tracking.artifact_location()
    if artifacts:
        command += ["--default-artifact-root", artifacts]
    click.echo(f"MLflow UI for {uri} on http://127.0.0.1:{port}", err=True)
    sys.exit(serve(command, env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}))


if __name__ == "__main__":  # pragma: no cover
    main()
