"""Reviewing the timescales read from documents: approve, correct or reject each, durably (issue 13).

A statement read at ingest is "extracted" until a person reviews it. A review is kept in the product database
(`safeguide.database`, outside the index builds, so a re-ingest never loses it) under the
statement's fingerprint (its document, paragraph and words), with who, when and why; every decision is
also appended to a history table. On the next ingest an unchanged statement keeps its review; a
statement whose words changed is a new statement, shown as pending with a note that its paragraph
changed since the last review.

- approved: the rule as read becomes a reviewed rule;
- corrected: the reviewer's trigger, event, amount, unit, direction or kind replace what was read (this
  is also how a statement that did not map becomes a rule);
- rejected: the statement is not a rule and is never used.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import func, insert, select

from safeguide.database import Database
from safeguide.database.tables import review_history, reviews
from safeguide.errors import InvalidQuery, SafeguideError
from safeguide.timescales.rules import Rule

CORRECTABLE = ("trigger", "event", "amount", "minimum", "unit", "direction", "kind", "who", "name")


class UnknownStatement(SafeguideError):
    """No statement read from the documents has that id."""


class Decision(BaseModel):
    decision: Literal["approved", "corrected", "rejected"]
    by: str = Field(min_length=2, max_length=80)
    why: str = Field(default="", max_length=500)
    correction: dict[str, Any] = Field(default_factory=dict)


class Review(Decision):
    fingerprint: str
    doc_id: str
    place: str
    at: str


class ReviewStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def version(self) -> int:
        """Grows with every decision (the history is append-only): a server worker that sees it change
        knows another worker, or the CLI, has decided something and reloads its rules."""
        with self._db.read() as conn:
            n = conn.execute(select(func.coalesce(func.max(review_history.c.n), 0))).scalar_one()
        return int(n)

    def all(self) -> dict[str, Review]:
        r = reviews.c
        with self._db.read() as conn:
            rows = conn.execute(
                select(
                    r.fingerprint,
                    r.doc_id,
                    r.place,
                    r.decision,
                    r.correction,
                    r.reviewer,
                    r.reason,
                    r.reviewed_at,
                )
            ).all()
        return {
            row[0]: Review(
                fingerprint=row[0],
                doc_id=row[1],
                place=row[2],
                decision=row[3],
                correction=json.loads(row[4]),
                by=row[5],
                why=row[6],
                at=row[7],
            )
            for row in rows
        }

    def record(self, item: dict[str, Any], decision: Decision) -> Review:
        """Store a decision on a statement (one transaction: the review and its history line)."""
        review = Review(
            **decision.model_dump(),
            fingerprint=item["fingerprint"],
            doc_id=item["citation"]["doc_id"],
            place=_place(item),
            at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        values = {
            "fingerprint": review.fingerprint,
            "doc_id": review.doc_id,
            "place": review.place,
            "decision": review.decision,
            "correction": json.dumps(review.correction, sort_keys=True),
            "reviewer": review.by,
            "reason": review.why,
            "reviewed_at": review.at,
        }
        with self._db.write() as conn:
            self._db.upsert(conn, reviews, values, key=("fingerprint",))
            conn.execute(insert(review_history).values(**values))
        return review

    def history(self, fingerprint: str | None = None) -> list[dict[str, Any]]:
        h = review_history.c
        query = select(h.fingerprint, h.decision, h.reviewer, h.reason, h.reviewed_at)
        if fingerprint:
            query = query.where(h.fingerprint == fingerprint)
        with self._db.read() as conn:
            rows = conn.execute(query.order_by(h.n)).all()
        return [dict(zip(("fingerprint", "decision", "by", "why", "at"), r, strict=True)) for r in rows]


def _place(item: dict[str, Any]) -> str:
    c = item["citation"]
    return str(c.get("paragraph") or c.get("heading") or "")


def corrected(item: dict[str, Any], decision: Decision, known_events: set[str]) -> Rule:
    """The rule a decision makes of a statement; InvalidQuery (a 4xx) when the correction is not valid."""
    unknown = sorted(set(decision.correction) - set(CORRECTABLE))
    if unknown:
        raise InvalidQuery(f"cannot correct {', '.join(unknown)}; correctable: {', '.join(CORRECTABLE)}")
    merged = {**item, **decision.correction}
    for key in ("trigger", "event"):
        if not merged.get(key):
            raise InvalidQuery(f"the statement has no {key}: give one (one of the event ids) to correct it")
        if merged[key] not in known_events:
            raise InvalidQuery(f"unknown event '{merged[key]}'; events are listed in corpus/events.toml")
    if not merged.get("name"):
        merged["name"] = str(merged["event"]).replace("-", " ").capitalize()
    verb = "Reviewed" if decision.decision == "approved" else "Corrected"
    merged["note"] = f"{verb} by {decision.by}" + (f": {decision.why}" if decision.why else "")
    merged["status"] = "reviewed"
    try:
        return Rule.model_validate(merged)
    except ValidationError as exc:
        raise InvalidQuery(f"the corrected rule is not valid: {exc.errors()[0]['msg']}") from exc


def apply_reviews(
    mapped: Iterable[dict[str, Any]],
    unmapped: Iterable[dict[str, Any]],
    reviews: dict[str, Review],
    known_events: set[str],
) -> tuple[list[Rule], list[dict[str, Any]]]:
    """The rules the statements make after review, and the statements still waiting for one (each with
    `changed_since` when an earlier version of its paragraph was reviewed)."""
    rules: list[Rule] = []
    pending: list[dict[str, Any]] = []
    items = [(i, True) for i in mapped] + [(i, False) for i in unmapped]
    reviewed_places = {(r.doc_id, r.place): r for r in reviews.values()}
    current = {i.get("fingerprint") for i, _ in items}
    for item, is_mapped in items:
        review = reviews.get(item.get("fingerprint", ""))
        if review is None:
            earlier = reviewed_places.get((item["citation"]["doc_id"], _place(item)))
            entry = {**item, "mapped": is_mapped}
            if earlier is not None and earlier.fingerprint not in current:
                entry["changed_since"] = f"{earlier.decision} by {earlier.by} on {earlier.at[:10]}"
            pending.append(entry)
            if is_mapped:
                note = (
                    f"Its paragraph changed since it was {entry['changed_since']}."
                    if "changed_since" in entry
                    else ""
                )
                rules.append(Rule.model_validate({**item, "note": note}))
            continue
        if review.decision == "rejected":
            continue
        try:
            rules.append(corrected(item, review, known_events))
        except InvalidQuery:
            pending.append({**item, "mapped": is_mapped, "review_failed": True})
    return rules, pending


def find_statement(items: Iterable[dict[str, Any]], ref: str) -> dict[str, Any]:
    """A statement by its rule id or a fingerprint prefix (six characters at least)."""
    ref = ref.strip()
    matches = [
        i
        for i in items
        if i.get("id") == ref or (len(ref) >= 6 and str(i.get("fingerprint", "")).startswith(ref))
    ]
    if len(matches) != 1:
        raise UnknownStatement(
            f"no statement read from the documents has the id '{ref}'"
            if not matches
            else f"'{ref}' matches {len(matches)} statements; give more of the fingerprint"
        )
    return matches[0]


def parse_corrections(pairs: Iterable[str]) -> dict[str, Any]:
    """ "event=icpc", "amount=12" as a correction; InvalidQuery for anything else."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise InvalidQuery(f"'{pair}': write a correction as field=value, e.g. event=icpc")
        if key in ("amount", "minimum"):
            if not value.isdigit() or len(value) > 4:
                raise InvalidQuery(f"'{pair}': {key} must be a whole number")
            out[key] = int(value)
        else:
            out[key] = value
    return out


def decide(
    store: ReviewStore, items: list[dict[str, Any]], ref: str, decision: Decision, known_events: set[str]
) -> tuple[Review, Rule | None]:
    """Check and store a decision on one statement; the rule it makes (None when rejected)."""
    item = find_statement(items, ref)
    if decision.decision == "rejected" and decision.correction:
        raise InvalidQuery("a rejected statement takes no correction")
    if decision.decision == "approved" and decision.correction:
        decision = decision.model_copy(update={"decision": "corrected"})
    if decision.decision == "corrected" and not decision.correction:
        raise InvalidQuery("say what to correct, e.g. event=icpc amount=12")
    rule = None if decision.decision == "rejected" else corrected(item, decision, known_events)
    return store.record(item, decision), rule
