"""Timescale rules as data, computed to the date. Pure: rules, calendar and dates are inputs.

No language model ever produces or computes a date: everything a user sees as a deadline comes
from `due()` or `plan()` here, with the rule's citation and the counting conventions used.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, model_validator

from safeguide.errors import InvalidQuery, SafeguideError
from safeguide.timescales.calendar import CONVENTIONS, WorkingCalendar, add_months, long_date

Unit = Literal["working_days", "calendar_days", "weeks", "months", "years", "hours", "minutes"]
UNIT_WORDS = {
    "working_days": ("working day", "working days"),
    "calendar_days": ("day", "days"),
    "weeks": ("week", "weeks"),
    "months": ("month", "months"),
    "years": ("year", "years"),
    "hours": ("hour", "hours"),
    "minutes": ("minute", "minutes"),
}


class UnknownTimescale(SafeguideError):
    """A rule id or event that the rules file does not hold."""


class RulesError(SafeguideError):
    """The rules file is not valid."""


class RuleCitation(BaseModel):
    doc_id: str
    paragraph: str | None = None
    heading: str | None = None
    evidence: str

    @model_validator(mode="after")
    def _points_somewhere(self) -> RuleCitation:
        if not (self.paragraph or self.heading):
            raise ValueError("a citation needs a paragraph or, for unnumbered documents, a heading")
        return self


class Rule(BaseModel):
    id: str
    name: str
    trigger: str
    event: str
    amount: int = Field(ge=0)
    minimum: int | None = None
    unit: Unit
    direction: Literal["after", "before"] = "after"
    kind: Literal["deadline", "interval", "threshold", "notice"] = "deadline"
    as_written: str
    ambiguous: bool = False
    reading: str = ""
    editions: list[str]
    authority: str
    conflicts_with: list[str] = Field(default_factory=list)
    note: str = ""
    citation: RuleCitation
    # "reviewed": written or checked by a person (corpus/timescales.toml); "extracted": read from the
    # document at ingest and not yet reviewed, which every answer using it says.
    status: Literal["reviewed", "extracted"] = "reviewed"
    who: str = ""

    @model_validator(mode="after")
    def _ambiguous_has_reading(self) -> Rule:
        if self.ambiguous and not self.reading:
            raise ValueError("an ambiguous rule must say which reading it uses")
        return self

    def duration_text(self) -> str:
        one, many = UNIT_WORDS[self.unit]
        if self.minimum is not None:
            return f"{self.minimum}-{self.amount} {many}"
        return f"{self.amount} {one if self.amount == 1 else many}"


def event_names(path: Path) -> dict[str, str]:
    """How each event of the vocabulary (corpus/events.toml) reads after "the" in a timescale ("15 working
    days after the strategy discussion"): its `said` form, else its name. Empty when there is no file."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RulesError(f"{path}: {exc}") from exc
    return {e["id"]: e.get("said") or e["name"] for e in raw.get("event", []) if "id" in e and "name" in e}


class RuleSet:
    def __init__(
        self,
        rules: list[Rule],
        unmapped: Iterable[dict[str, Any]] = (),
        names: dict[str, str] | None = None,
    ) -> None:
        self.rules = {r.id: r for r in rules}
        # How each event reads in an answer (`said`): "the initial child protection conference", not
        # "the icpc".
        self.names = dict(names or {})
        # Statements read from the documents that map onto no step yet (and are not rejected): an answer
        # that falls back to the national rule in an area whose documents hold some says so.
        self.unmapped = list(unmapped)
        if len(self.rules) != len(rules):
            seen: set[str] = set()
            dupes = sorted({r.id for r in rules if r.id in seen or seen.add(r.id)})  # type: ignore[func-returns-value]
            raise RulesError(f"duplicate rule ids: {', '.join(dupes)}")
        for r in rules:
            missing = [c for c in r.conflicts_with if c not in self.rules]
            if missing:
                raise RulesError(f"rule {r.id}: conflicts_with names unknown rules {missing}")

    @classmethod
    def load(cls, path: Path, events: Path | None = None) -> RuleSet:
        """The rules of a file, with the names of the events in `events` (by default the events.toml beside
        it, as in corpus/)."""
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise RulesError(f"{path}: {exc}") from exc
        names = event_names(events or path.with_name("events.toml"))
        try:
            return cls([Rule.model_validate(r) for r in raw.get("rule", [])], names=names)
        except ValidationError as exc:
            raise RulesError(f"{path.name}: {exc}") from exc

    def said(self, event: str) -> str:
        """An event as an answer says it after "the": "initial child protection conference" for "icpc"; an
        event the vocabulary does not name reads as its id in words."""
        return self.names.get(event) or event.replace("-", " ")

    def get(self, rule_id: str) -> Rule:
        try:
            return self.rules[rule_id]
        except KeyError:
            hint = did_you_mean(rule_id, self.rules) or "; `safeguide timescales list` shows them all"
            raise UnknownTimescale(f"no timescale rule '{rule_id}'{hint}") from None

    def events(self) -> set[str]:
        return {r.trigger for r in self.rules.values()} | {r.event for r in self.rules.values()}

    def for_authority(self, authority: str | None) -> list[Rule]:
        """The rules that apply in an area, for each step the first of: the area's reviewed rules, the
        area's rules read from its own documents, the national reviewed rules, national rules read from
        documents. Never another area's rule. With no area, the national rules alone."""
        area = (authority or "national").lower()
        tiers = [
            [r for r in self.rules.values() if r.authority == area and r.status == "reviewed"],
            [r for r in self.rules.values() if r.authority == area and r.status == "extracted"],
            [
                r
                for r in self.rules.values()
                if r.authority == "national" and r.status == "reviewed" and not _is_variant(r)
            ],
            [r for r in self.rules.values() if r.authority == "national" and r.status == "extracted"],
        ]
        if area == "national":
            tiers = tiers[2:]
        chosen: list[Rule] = []
        covered: set[tuple[str, str]] = set()
        for tier in tiers:
            step = [r for r in tier if (r.trigger, r.event) not in covered]
            chosen.extend(step)
            covered |= {(r.trigger, r.event) for r in step}
        return chosen

    def differing(self, rule: Rule) -> list[Rule]:
        """Other rules for the same step (national, or the same area's other documents) that set a
        different time: the answer lists them beside the one it used."""
        return [
            r
            for r in self.rules.values()
            if r.id != rule.id
            and (r.trigger, r.event) == (rule.trigger, rule.event)
            and r.authority in ("national", rule.authority)
            and (r.amount, r.unit, r.direction) != (rule.amount, rule.unit, rule.direction)
            and not _is_variant(r)
        ]

    def statements(self) -> set[tuple[str, str | None, int, str]]:
        """The statements these rules stand for: (document, paragraph or heading, amount, unit)."""
        return {statement_key(r) for r in self.rules.values()}

    def reviewed(self) -> RuleSet:
        """Only the rules a person wrote or reviewed: what quizzes and edition comparisons are built from."""
        return RuleSet([r for r in self.rules.values() if r.status == "reviewed"], names=self.names)

    def refresh(self, other: RuleSet) -> None:
        """Take another set's rules in place (after a review), so every holder of this set sees them."""
        self.rules = dict(other.rules)
        self.unmapped = list(other.unmapped)
        self.names = dict(other.names)

    def with_extracted(self, extracted: Iterable[Rule], unmapped: Iterable[dict[str, Any]] = ()) -> RuleSet:
        """These rules plus rules read from documents, leaving out any statement a reviewed rule already
        covers (same document, paragraph, amount and unit); with the statements that map onto no step."""
        reviewed = self.statements()
        new = [r for r in extracted if statement_key(r) not in reviewed and r.id not in self.rules]
        return RuleSet([*self.rules.values(), *new], [*self.unmapped, *unmapped], self.names)

    def unmapped_for(self, authority: str | None, event: str) -> list[dict[str, Any]]:
        """An area's statements not yet matched to a step whose sentence names `event` (what it times,
        what it counts from, or a phrase of the vocabulary for it anywhere in the sentence)."""
        area = (authority or "national").lower()
        return [
            u
            for u in self.unmapped
            if str(u.get("authority", "")).lower() == area
            and event in (u.get("event"), u.get("trigger"), *u.get("names", ()))
        ]


def statement_key(rule: Rule | dict[str, Any]) -> tuple[str, str | None, int, str]:
    """Which statement of which document a rule (or a rule read from a document, as a dict) states."""
    r = rule.model_dump() if isinstance(rule, Rule) else rule
    c = r["citation"]
    return (c["doc_id"], c.get("paragraph") or c.get("heading"), r["amount"], r["unit"])


def did_you_mean(word: str, options: Iterable[str]) -> str:
    near = difflib.get_close_matches(word, sorted(options), n=5, cutoff=0.5)
    return f"; did you mean {', '.join(near)}?" if near else ""


def _is_variant(rule: Rule) -> bool:
    """National rules that are another reading or an older edition, not the default."""
    return rule.ambiguous or "pre-2010" in rule.editions


class Skipped(BaseModel):
    date: date
    reason: str


class DueResult(BaseModel):
    rule_id: str
    name: str
    start: date
    start_time: time | None = None
    due: date
    due_time: time | None = None
    weekday: str
    due_text: str
    explanation: str
    skipped: list[Skipped]
    warnings: list[str]
    conventions: dict[str, str]
    kind: str
    direction: str


# The dates a deadline may start from: the guidance editions held run from 2010, and a far year would
# overflow the date arithmetic or fall outside any bank-holiday calendar anyone has published.
EARLIEST_START = date(1990, 1, 1)  # always a 1 January
LATEST_START = date(2099, 12, 31)  # always a 31 December


def check_start(start: date, field: str = "the start date") -> date:
    """`start`, if a deadline can be counted from it; otherwise a clear InvalidQuery (a 422, not a 500)."""
    if not EARLIEST_START <= start <= LATEST_START:
        raise InvalidQuery(
            f"{field} {start.isoformat()} is out of range: give a date from 1 January {EARLIEST_START.year} "
            f"to 31 December {LATEST_START.year}"
        )
    return start


def due(rule: Rule, start: date, calendar: WorkingCalendar, start_time: time | None = None) -> DueResult:
    """When `rule` falls for a trigger on `start` (and, for hours and minutes, at `start_time`)."""
    check_start(start)
    sign = 1 if rule.direction == "after" else -1
    warnings: list[str] = []
    skipped = []
    due_time: time | None = None
    conventions = {k: CONVENTIONS[k] for k in ("working_day", "day_zero")}
    if rule.unit == "working_days":
        if not calendar.is_working_day(start) and rule.amount:
            warnings.append(
                f"{long_date(start)} is not a working day ({calendar.reason_closed(start)}); "
                "it is still day 0, so the count starts with the next working day"
            )
        result, passed = calendar.shift_working_days(start, sign * rule.amount)
        skipped = [Skipped(date=s.day, reason=s.reason) for s in passed]
    else:
        conventions["calendar_units"] = CONVENTIONS["calendar_units"]
        if rule.unit in ("hours", "minutes"):
            delta = timedelta(hours=rule.amount) if rule.unit == "hours" else timedelta(minutes=rule.amount)
            moment = datetime.combine(start, start_time or time(0, 0)) + sign * delta
            result = moment.date()
            due_time = moment.time() if start_time is not None else None
            if start_time is None and rule.amount % 24 and rule.unit == "hours":
                warnings.append("no time of day was given: the date assumes the event was at midnight")
        elif rule.unit in ("months", "years"):
            conventions["months"] = CONVENTIONS["months"]
            months = rule.amount * (12 if rule.unit == "years" else 1)
            result = add_months(start, sign * months)
            if result.day != start.day:
                warnings.append(
                    f"{rule.duration_text()} from {long_date(start)} has no day {start.day} in its month: "
                    f"the date is the month's last day, {long_date(result)}"
                )
        else:
            days = rule.amount * (7 if rule.unit == "weeks" else 1)
            result = start + timedelta(days=sign * days)
        closed = calendar.reason_closed(result)
        if closed and rule.kind in ("deadline", "notice"):
            conventions["non_working_due_date"] = CONVENTIONS["non_working_due_date"]
            fallback, _ = calendar.shift_working_days(result, -1)
            warnings.append(
                f"{long_date(result)} is not a working day ({closed}); the guidance does not move the "
                f"deadline, so plan for {long_date(fallback)}, the working day before"
            )
        skipped = (
            [Skipped(date=s.day, reason=s.reason) for s in calendar.non_working_between(start, result)]
            if rule.unit in ("calendar_days", "weeks")
            else []
        )
    if rule.ambiguous:
        warnings.append(f'the text says "{rule.as_written}"; dates here read it as {rule.reading}')
    due_text = long_date(result) + (f" at {due_time.strftime('%H:%M')}" if due_time else "")
    return DueResult(
        rule_id=rule.id,
        name=rule.name,
        start=start,
        start_time=start_time,
        due=result,
        due_time=due_time,
        weekday=long_date(result).split()[0],
        due_text=due_text,
        explanation=_explain(rule, start, result, due_text, skipped),
        skipped=skipped,
        warnings=warnings,
        conventions=conventions,
        kind=rule.kind,
        direction=rule.direction,
    )


def _explain(rule: Rule, start: date, result: date, due_text: str, skipped: list[Skipped]) -> str:
    relation = "after" if rule.direction == "after" else "before"
    head = {
        "deadline": f"{rule.name}: due by {due_text}",
        "interval": f"{rule.name}: next by {due_text} at the latest",
        "threshold": f"{rule.name}: from {due_text}",
        "notice": f"{rule.name}: by {due_text} at the latest",
    }[rule.kind]
    counted = f"{rule.duration_text()} {relation} {long_date(start)}"
    if rule.unit == "working_days" and rule.amount:
        counted += f" (day 0 is {long_date(start)})"
    passed = ""
    if skipped and rule.unit == "working_days":
        passed = "; passed over: " + ", ".join(f"{long_date(s.date)} ({s.reason})" for s in skipped)
    return f"{head}: {counted}{passed}."


# An event also counts as each of these when rules are matched to it (every conference is a conference).
EVENT_ALIASES = {
    "icpc": ("conference",),
    "review": ("conference",),
    "transfer-conference": ("conference",),
}


def triggered_by(rule: Rule, event: str) -> bool:
    return rule.trigger == event or rule.trigger in EVENT_ALIASES.get(event, ())


class PlanStep(BaseModel):
    rule_id: str
    name: str
    trigger: str
    trigger_date: date
    due: DueResult
    occurrence: int = 1


def plan(
    rules: RuleSet,
    event: str,
    start: date,
    calendar: WorkingCalendar,
    authority: str | None = None,
    repeats: int = 2,
) -> list[PlanStep]:
    """Every downstream deadline from `event` on `start`, in date order. Recurring rules (a review
    every six months) are followed `repeats` times. Thresholds and notices are left out: they hang on
    dates the user sets."""
    check_start(start, "the date")
    if event not in rules.events():
        hint = did_you_mean(event, rules.events())
        raise UnknownTimescale(f"no timescale starts from the event '{event}'{hint}")
    applicable = [
        r
        for r in rules.for_authority(authority)
        if r.kind in ("deadline", "interval") and r.direction == "after"
    ]
    steps: list[PlanStep] = []
    frontier: list[tuple[str, date, int]] = [(event, start, 0)]
    used: set[str] = set()
    while frontier:
        trigger, when, occurrence = frontier.pop(0)
        for rule in applicable:
            if not triggered_by(rule, trigger):
                continue
            recurring = rule.trigger == rule.event
            if recurring and occurrence >= repeats:
                continue
            if not recurring and rule.id in used:
                continue
            used.add(rule.id)
            result = due(rule, when, calendar)
            n = occurrence + 1 if recurring else 1
            steps.append(
                PlanStep(
                    rule_id=rule.id,
                    name=rule.name
                    + (" [read from the document, not yet reviewed]" if rule.status == "extracted" else ""),
                    trigger=trigger,
                    trigger_date=when,
                    due=result,
                    occurrence=n,
                )
            )
            if rule.event != trigger or recurring:
                frontier.append((rule.event, result.due, n if recurring else 0))
    steps.sort(key=lambda s: (s.due.due, s.rule_id, s.occurrence))
    return steps


def parse_iso_date(value: str, field: str = "date") -> date:
    try:
        return date.fromisoformat(value.strip())
    except (ValueError, AttributeError):
        raise InvalidQuery(f"{field} '{value}' is not a real date in the form YYYY-MM-DD") from None


def parse_time_of_day(value: str | None) -> time | None:
    if value is None:
        return None
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise InvalidQuery(f"start_time '{value}' is not a time of day like 14:30") from None
