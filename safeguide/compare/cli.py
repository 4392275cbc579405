"""`safeguide compare`: what changed between two editions, exported as Markdown, CSV, HTML or JSON."""

from __future__ import annotations

import json
from pathlib import Path

import click

from safeguide.files import write_atomically
from safeguide.settings import get_settings


@click.command("compare")
@click.option("--from", "from_edition", default="2010", show_default=True, help="The older edition.")
@click.option("--to", "to_edition", default="2018", show_default=True, help="The newer edition.")
@click.option("--topic", default=None, help='Only changes about this, e.g. "child deaths".')
@click.option("--authority", default=None, help="Whose documents (default: national).")
@click.option(
    "--format", "fmt", type=click.Choice(["md", "csv", "html", "json"]), default="md", show_default=True
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write here.")
@click.option(
    "--summaries",
    type=click.Choice(["source", "model"]),
    default="source",
    show_default=True,
    help="source: quoted from the passages; model: written by the configured model, then checked.",
)
def compare_cmd(
    from_edition: str,
    to_edition: str,
    topic: str | None,
    authority: str | None,
    fmt: str,
    out: Path | None,
    summaries: str,
) -> None:
    """What changed between two editions, point by point, each change with its sources."""
    from safeguide.compare.export import export
    from safeguide.models import build_model
    from safeguide.services import build_comparer, build_retriever, build_rules

    settings = get_settings()
    model = None
    if summaries == "model":
        model, _, notice = build_model(settings)
        if notice:
            raise click.ClickException(notice)
    comparer = build_comparer(settings, build_retriever(settings), build_rules(settings), model)
    comparison = comparer.compare(from_edition, to_edition, topic, authority, "model" if model else "source")
    if fmt == "json":
        text = json.dumps(comparison.public(), indent=2, ensure_ascii=False) + "\n"
    else:
        text = export(comparison, fmt)[0]
    if out is None:
        click.echo(text, nl=False)
        return
    write_atomically(out, text.encode())
    click.echo(
        f"{len(comparison.changes)} changes ({len(comparison.earlier)} more listed as new in "
        f"{from_edition}) written to {out} in {comparison.took_ms:.0f} ms",
        err=True,
    )
