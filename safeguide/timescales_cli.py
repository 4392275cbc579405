"""`safeguide timescales list|due|plan`: deadlines computed to the date, with their sources."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from safeguide.calendar import long_date
from safeguide.files import write_atomically
from safeguide.settings import get_settings


def _context() -> tuple[Any, Any]:
    from safeguide.services import build_rules

    settings = get_settings()
    return settings, build_rules(settings)


def _citations(rules: Any, settings: Any) -> dict[str, Any]:
    """Cited paragraphs from the index, if there is one; the rules work without it."""
    from ingest.embedder import LazyEmbedder
    from ingest.store import IndexLocation
    from safeguide.retrieval import HybridRetriever
    from safeguide.services import rule_citations

    retriever = HybridRetriever(
        IndexLocation(settings.index_root), LazyEmbedder(settings.embedding_model_path)
    )
    return rule_citations(rules, retriever)


@click.group("timescales")
def timescales() -> None:
    """Timescale rules from the guidance, computed to real dates."""


@timescales.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--authority", default=None, help="Only rules that apply in this area (with national defaults)."
)
def list_cmd(as_json: bool, authority: str | None) -> None:
    """List every rule with its source."""
    from api.timescales import rule_out

    settings, rules = _context()
    chosen = rules.for_authority(authority) if authority else list(rules.rules.values())
    if as_json:
        cited = _citations(rules, settings)
        click.echo(json.dumps({"rules": [rule_out(r, cited) for r in chosen]}, indent=2, ensure_ascii=False))
        return
    for r in chosen:
        flags = " [ambiguous unit]" if r.ambiguous else ""
        flags += f" [conflicts with {', '.join(r.conflicts_with)}]" if r.conflicts_with else ""
        where = r.citation.paragraph or r.citation.heading
        click.echo(
            f"{r.id}: {r.name}: {r.duration_text()} {r.direction} {r.trigger} "
            f"({r.authority}, {'/'.join(r.editions)}; {r.citation.doc_id} {where}){flags}"
        )


@timescales.command("due")
@click.argument("rule_id")
@click.option("--start", required=True, help="The date of the trigger event, YYYY-MM-DD.")
@click.option("--time", "start_time", default=None, help="Time of the event (HH:MM), for hour rules.")
@click.option("--authority", default=None, help="Area whose closure days apply (if configured).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def due_cmd(rule_id: str, start: str, start_time: str | None, authority: str | None, as_json: bool) -> None:
    """When RULE_ID falls for an event on --start."""
    from api.timescales import due_out
    from safeguide.services import build_calendar
    from safeguide.timescales import due, parse_iso_date, parse_time_of_day

    settings, rules = _context()
    rule = rules.get(rule_id)
    result = due(
        rule,
        parse_iso_date(start, "--start"),
        build_calendar(settings, authority),
        parse_time_of_day(start_time),
    )
    if as_json:
        click.echo(
            json.dumps(due_out(result, rule, _citations(rules, settings)), indent=2, ensure_ascii=False)
        )
        return
    click.echo(result.explanation)
    for warning in result.warnings:
        click.echo(f"  note: {warning}")
    where = rule.citation.paragraph or rule.citation.heading
    click.echo(f'  source: {rule.citation.doc_id} {where}: "{rule.as_written}"')


@timescales.command("plan")
@click.option("--event", required=True, help="What happened, e.g. icpc, strategy-discussion, referral.")
@click.option("--date", "day", required=True, help="When, YYYY-MM-DD.")
@click.option("--authority", default=None, help="Area (its own rules replace the national defaults).")
@click.option(
    "--ics",
    "ics_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the plan as a calendar file.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def plan_cmd(event: str, day: str, authority: str | None, ics_file: Path | None, as_json: bool) -> None:
    """Every deadline that follows an event, in date order."""
    from api.timescales import due_out
    from safeguide.ics import plan_to_ics
    from safeguide.services import build_calendar, citation_labels
    from safeguide.timescales import parse_iso_date, plan

    settings, rules = _context()
    start = parse_iso_date(day, "--date")
    steps = plan(rules, event, start, build_calendar(settings, authority), authority)
    cited = _citations(rules, settings) if ics_file is not None or as_json else {}
    if ics_file is not None:
        data = plan_to_ics(steps, f"Deadlines from the {event} on {long_date(start)}", citation_labels(cited))
        write_atomically(ics_file, data)
    if as_json:
        out = [{**due_out(s.due, rules.get(s.rule_id), cited), "occurrence": s.occurrence} for s in steps]
        click.echo(
            json.dumps(
                {"event": event, "date": start.isoformat(), "steps": out}, indent=2, ensure_ascii=False
            )
        )
        return
    click.echo(f"From the {event} on {long_date(start)} ({authority or 'national defaults'}):")
    for s in steps:
        click.echo(f"- {s.due.due_text}: {s.name}" + (f" (#{s.occurrence})" if s.occurrence > 1 else ""))
    if ics_file is not None:
        click.echo(f"calendar written to {ics_file}")
