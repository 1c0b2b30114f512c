"""Command line: a thin layer over the library (``churnlab --help``)."""

from __future__ import annotations

import sys
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
    """List the named datasets that ship with churnlab."""
    from churnlab.data import SOURCES

    for name, loader in SOURCES.items():
        click.echo(f"{name:<10} {(loader.__doc__ or '').strip().splitlines()[0]}")
    click.echo(f"{'synthetic':<10} The synthetic world with ground truth (churnlab data generate).")
    click.echo("or a path to a files config (.yaml) or to a folder written by `churnlab data generate`.")


@data.command("describe")
@click.argument("source")
def data_describe(source: str) -> None:
    """Describe SOURCE (a name, a files config or a dataset folder): tables, rows, dates, churn rate."""
    from churnlab.data import load
    from churnlab.data.summary import overall_churn_rate, summarize

    ds = load(source)
    click.echo(f"{ds.name}: {ds.description or ds.source}")
    click.echo(f"source: {ds.source}\nas_of: {ds.as_of.date()}  kind: {ds.kind}  fingerprint: {ds.fingerprint}")
    table = summarize(ds)
    for col in ("first", "last"):
        table[col] = table[col].dt.date.astype("string").fillna("-")
    click.echo(table.to_string(index=False))
    rate = overall_churn_rate(ds)
    click.echo(f"churn rate: {rate:.1%}" if rate is not None else "churn rate: defined by a label window (see labels)")


@data.command("validate")
@click.argument("source")
def data_validate(source: str) -> None:
    """Validate SOURCE against the canonical schema; list every problem, exit 1 if any."""
    from churnlab.data import load
    from churnlab.schema import validate

    report = validate(load(source))
    click.echo(str(report))
    sys.exit(0 if report.ok else 1)


@data.command("generate")
@click.option("--customers", "n_customers", type=int, default=10_000, show_default=True, help="Number of customers.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("--start", default="2024-01-01", show_default=True, help="First day of the simulated period.")
@click.option("--end", default="2024-12-31", show_default=True, help="Last day of the simulated period.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder to write Parquet tables to.")
def data_generate(n_customers: int, seed: int, start: str, end: str, out: Path) -> None:
    """Generate the synthetic world and write its tables and truth as Parquet to OUT."""
    from churnlab.data.synthetic import generate, save_world

    dataset, truth = generate(n_customers=n_customers, start=start, end=end, seed=seed, progress=True)
    save_world(dataset, truth, out)
    click.echo(f"wrote {dataset!r} to {out} (fingerprint {dataset.fingerprint})")


if __name__ == "__main__":  # pragma: no cover
    main()
