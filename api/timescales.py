"""Timescale routes: the rules with their cited paragraphs, due dates, plans and calendar files."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from api.deps import RetrieverDep, ReviewStoreDep, RulesDep, SettingsDep
from api.security import audit, principal_name, require
from ingest.store import IndexLocation
from safeguide.services import (
    build_calendar,
    build_rules,
    citation_labels,
    document_rules,
    document_statements,
    known_events,
    rule_citations,
)
from safeguide.timescales.calendar import long_date
from safeguide.timescales.ics import plan_to_ics
from safeguide.timescales.review import Decision, decide
from safeguide.timescales.rules import (
    DueResult,
    PlanStep,
    Rule,
    RuleSet,
    due,
    parse_iso_date,
    parse_time_of_day,
    plan,
)

router = APIRouter(prefix="/api/timescales", tags=["timescales"])


class DueRequest(BaseModel):
    rule_id: str
    start: str
    start_time: str | None = None
    authority: str | None = None


class ReviewRequest(Decision):
    statement: str  # the rule id or a fingerprint (prefix of six characters or more)


class PlanRequest(BaseModel):
    event: str
    date: str
    authority: str | None = None


def _citation(rule: Rule, cited: dict[str, Any]) -> dict[str, Any]:
    passage = cited.get(rule.id)
    return {
        "doc_id": rule.citation.doc_id,
        "paragraph": rule.citation.paragraph,
        "heading": rule.citation.heading,
        "label": passage.label if passage else None,
        "text": passage.text if passage else None,
    }


def rule_out(rule: Rule, cited: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.name,
        "trigger": rule.trigger,
        "event": rule.event,
        "amount": rule.amount,
        "minimum": rule.minimum,
        "unit": rule.unit,
        "direction": rule.direction,
        "kind": rule.kind,
        "as_written": rule.as_written,
        "ambiguous": rule.ambiguous,
        "reading": rule.reading or None,
        "applies_to": {"editions": rule.editions, "authority": rule.authority},
        "conflicts_with": rule.conflicts_with,
        "note": rule.note or None,
        "citation": _citation(rule, cited),
        "status": rule.status,  # "extracted": read from the document, not yet reviewed
        "who": rule.who or None,
    }


def due_out(result: DueResult, rule: Rule, cited: dict[str, Any]) -> dict[str, Any]:
    return {
        "rule_id": result.rule_id,
        "name": result.name,
        "start": result.start.isoformat(),
        "due": result.due.isoformat(),
        "due_time": result.due_time.strftime("%H:%M") if result.due_time else None,
        "weekday": result.weekday,
        "due_text": result.due_text,
        "explanation": result.explanation,
        "skipped": [{"date": s.date.isoformat(), "reason": s.reason} for s in result.skipped],
        "warnings": result.warnings,
        "conventions": result.conventions,
        "citation": _citation(rule, cited),
    }


def _plan(
    rules: RuleSet, settings: Any, retriever: Any, event: str, day: str, authority: str | None
) -> tuple[date, list[Any], dict[str, Any]]:
    start = parse_iso_date(day, "date")
    steps = plan(rules, event, start, build_calendar(settings, authority), authority)
    return start, steps, rule_citations(rules, retriever)


@router.get("")
def list_rules(rules: RulesDep, retriever: RetrieverDep) -> dict[str, Any]:
    cited = rule_citations(rules, retriever)
    return {"rules": [rule_out(r, cited) for r in rules.rules.values()]}


@router.post("/due")
def due_date(
    body: DueRequest, rules: RulesDep, settings: SettingsDep, retriever: RetrieverDep
) -> dict[str, Any]:
    rule = rules.get(body.rule_id)
    start = parse_iso_date(body.start, "start")
    result = due(rule, start, build_calendar(settings, body.authority), parse_time_of_day(body.start_time))
    return due_out(result, rule, rule_citations(rules, retriever))


@router.post("/plan")
def plan_json(
    body: PlanRequest, rules: RulesDep, settings: SettingsDep, retriever: RetrieverDep
) -> dict[str, Any]:
    start, steps, cited = _plan(rules, settings, retriever, body.event, body.date, body.authority)
    return {
        "event": body.event,
        "date": start.isoformat(),
        "authority": body.authority or "national",
        "steps": [
            {
                **due_out(s.due, rules.get(s.rule_id), cited),
                "occurrence": s.occurrence,
                "trigger": s.trigger,
                "trigger_date": s.trigger_date.isoformat(),
            }
            for s in steps
        ],
    }


def _ics_response(
    rules: RuleSet, settings: Any, retriever: Any, event: str, day: str, authority: str | None
) -> Response:
    start, steps, cited = _plan(rules, settings, retriever, event, day, authority)
    labels = citation_labels(cited)
    title = f"Deadlines from the {event.replace('-', ' ')} on {long_date(start)}"
    body = plan_to_ics(steps, title, labels)
    filename = f"safeguide-{event}-{start.isoformat()}.ics"
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/plan.ics")
def plan_ics_get(
    rules: RulesDep,
    settings: SettingsDep,
    retriever: RetrieverDep,
    event: str = Query(...),
    date: str = Query(...),
    authority: str | None = None,
) -> Response:
    return _ics_response(rules, settings, retriever, event, date, authority)


@router.post("/plan.ics")
def plan_ics_post(
    body: PlanRequest, rules: RulesDep, settings: SettingsDep, retriever: RetrieverDep
) -> Response:
    return _ics_response(rules, settings, retriever, body.event, body.date, body.authority)


@router.get("/due.ics")
def due_ics(
    rules: RulesDep,
    settings: SettingsDep,
    retriever: RetrieverDep,
    rule_id: str = Query(...),
    start: str = Query(...),
    authority: str | None = None,
) -> Response:
    """One deadline as a calendar file, for the chat's "add to calendar" button."""
    rule = rules.get(rule_id)
    day = parse_iso_date(start, "start")
    result = due(rule, day, build_calendar(settings, authority))
    cited = rule_citations(rules, retriever)
    labels = citation_labels(cited)
    step = PlanStep(rule_id=rule.id, name=rule.name, trigger=rule.trigger, trigger_date=day, due=result)
    body = plan_to_ics([step], rule.name, labels)
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="safeguide-{rule.id}-{result.due}.ics"'},
    )


ADMIN = [Depends(require("admin"))]


@router.get("/review", dependencies=ADMIN)
def review_list(settings: SettingsDep, reviews: ReviewStoreDep) -> dict[str, Any]:
    """Timescales read from the documents that wait for review, and the decisions made so far."""
    events = known_events(settings)
    reviewed = build_rules(settings, extracted=False)
    _, pending = document_rules(
        IndexLocation(settings.index_root, settings.chroma_url), reviews, events, reviewed
    )
    decided = sorted(reviews.all().values(), key=lambda r: r.at, reverse=True)
    return {"pending": pending, "reviewed": [r.model_dump() for r in decided], "events": sorted(events)}


@router.post("/review", dependencies=ADMIN)
def review_decide(
    body: ReviewRequest, settings: SettingsDep, reviews: ReviewStoreDep, request: Request
) -> dict[str, Any]:
    """Approve, correct or reject one statement; the rules in use change at once. The decision is kept
    under the signed-in reviewer's name."""
    mapped, unmapped = document_statements(IndexLocation(settings.index_root, settings.chroma_url))
    by = principal_name(request) or body.by
    decision = Decision(decision=body.decision, by=by, why=body.why, correction=body.correction)
    review, rule = decide(reviews, mapped + unmapped, body.statement, decision, known_events(settings))
    request.app.state.rules_keeper.reload()
    audit(
        request,
        f"rule.{review.decision}",
        review.fingerprint,
        doc_id=review.doc_id,
        place=review.place,
        correction=body.correction,
    )
    return {"review": review.model_dump(), "rule": rule.model_dump() if rule else None}
