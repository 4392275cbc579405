"""`safeguide timescales list|due|plan`: deadlines computed to the date, with their sources."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from safeguide.files import write_atomically
from safeguide.settings import get_settings
from safeguide.timescales.calendar import long_date


def _context() -> tuple[Any, Any]:
    from safeguide.services import build_rules

    settings = get_settings()
    return settings, build_rules(settings)


def _citations(rules: Any, settings: Any) -> dict[str, Any]:
    """Cited paragraphs from the index, if there is one; the rules work without it."""
    from ingest.embedder import LazyEmbedder
    from ingest.store import IndexLocation
    from safeguide.retrieval.hybrid import HybridRetriever
    from safeguide.services import rule_citations

    retriever = HybridRetriever(
        IndexLocation(settings.index_root, settings.chroma_url), LazyEmbedder(settings.embedding_model_path)
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
        flags += " [read from the document, not yet reviewed]" if r.status == "extracted" else ""
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
    from safeguide.timescales.rules import due, parse_iso_date, parse_time_of_day

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
    from safeguide.services import build_calendar, citation_labels
    from safeguide.timescales.ics import plan_to_ics
    from safeguide.timescales.rules import parse_iso_date, plan

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


@timescales.command("review")
@click.argument("statement", required=False)
@click.option("--approve", "decision", flag_value="approved", help="The rule as read is right.")
@click.option("--reject", "decision", flag_value="rejected", help="Not a rule: never use it.")
@click.option(
    "--correct", "corrections", multiple=True, help="field=value to change, e.g. event=icpc (repeatable)."
)
@click.option("--by", "reviewer", default=None, help="Who reviews (kept with the decision).")
@click.option("--why", default="", help="Why (kept with the decision).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def review_cmd(
    statement: str | None,
    decision: str | None,
    corrections: tuple[str, ...],
    reviewer: str | None,
    why: str,
    as_json: bool,
) -> None:
    """Timescales read from the documents: list those waiting for review, or approve, correct or reject one.

    \b
    safeguide timescales review
    safeguide timescales review 3f9a2c --approve --by "A. Lead" --why "matches 5.1"
    safeguide timescales review 3f9a2c --correct event=icpc --correct amount=12 --by "A. Lead"
    """
    from pydantic import ValidationError

    from ingest.store import IndexLocation
    from safeguide.errors import InvalidQuery
    from safeguide.services import build_rules, document_rules, document_statements, known_events
    from safeguide.timescales.review import Decision, ReviewStore, decide, parse_corrections

    settings = get_settings()
    location = IndexLocation(settings.index_root, settings.chroma_url)
    db = settings.open_database()
    store = ReviewStore(db)
    try:
        events = known_events(settings)
        if statement is None:
            if decision or corrections:
                raise click.UsageError(
                    "give the statement's id to review it (run without options to list them)"
                )
            _, pending = document_rules(location, store, events, build_rules(settings, extracted=False))
            if as_json:
                click.echo(json.dumps({"pending": pending}, indent=2, ensure_ascii=False))
                return
            for item in pending:
                mapping = f"{item['trigger'] or '?'} -> {item['event'] or '?'}"
                flags = "" if item["mapped"] else f"  [does not map: {item['why']}]"
                flags += f"  [changed since {item['changed_since']}]" if item.get("changed_since") else ""
                where = item["id"].split(":")[1]
                timing = f"{item['amount']} {item['unit']} {item['direction']} ({item['kind']})"
                head = f"{item['fingerprint'][:10]}  {item['citation']['doc_id']} {where}"
                click.echo(
                    f"{head}  {timing}  {mapping}{flags}\n    \u201c{item['citation']['evidence']}\u201d"
                )
            click.echo(f"{len(pending)} read from the documents, waiting for review")
            return
        if reviewer is None:
            raise click.UsageError("--by NAME is required: every review records who made it")
        chosen = "corrected" if corrections and decision != "rejected" else decision
        if chosen is None:
            raise click.UsageError("say --approve, --reject or --correct field=value")
        try:
            d = Decision(decision=chosen, by=reviewer, why=why, correction=parse_corrections(corrections))
        except ValidationError as exc:
            raise InvalidQuery(f"review: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}") from exc
        mapped, unmapped = document_statements(location)
        review, rule = decide(store, mapped + unmapped, statement, d, events)
        if as_json:
            click.echo(
                json.dumps({"review": review.model_dump(), "rule": rule and rule.model_dump()}, indent=2)
            )
            return
        outcome = (
            "not a rule"
            if rule is None
            else f"{rule.name}: {rule.duration_text()} {rule.direction} the {rule.trigger}"
        )
        click.echo(f"{review.decision} by {review.by}: {outcome}")
    finally:
        db.close()
