"""Read a question for timescale requests: which event happened when, and which deadline is asked.

Pure: the question, `today` and the rules are inputs. "The strategy discussion was on Friday 19
December, when is the conference due?" → [TimescaleRequest(rule_id="icpc", start=2025-12-19, ...)].
Dates are parsed by `dateparser` (day-month order, past dates preferred: the events asked about have
happened); a phrase that looks like a date but is not one ("31 February") is an error, never a guess.
"""

from __future__ import annotations

import calendar as _cal
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

import dateparser

from safeguide.errors import InvalidQuery
from safeguide.timescales.calendar import WEEKDAYS, long_date
from safeguide.timescales.rules import RuleSet, triggered_by

if TYPE_CHECKING:
    from ingest.timescale_extract import Vocabulary

_MONTHS = "|".join([m for m in _cal.month_name if m] + [m for m in _cal.month_abbr if m] + ["Sept"])
_DAYS = "|".join(WEEKDAYS) + "|Mon|Tue|Tues|Wed|Thu|Thur|Thurs|Fri|Sat|Sun"
_ORD = r"(?:st|nd|rd|th)?"
# The shapes of a date in a question, found here and parsed by dateparser: (Friday) 19(th) (of) December
# (2025); (Friday) December 19(th) (2025); 2025-12-19; 19/12/2025; today, yesterday, tomorrow; 3 days ago;
# last/this/on Friday (not followed by a day number); on the 3rd.
DATE_PHRASE = re.compile(
    rf"""\b(?:
        (?:(?:{_DAYS}),?\s+)?(?:the\s+)?\d{{1,2}}{_ORD}\s+(?:of\s+)?(?:{_MONTHS})\.?(?:,?\s+\d{{4}})?
      | (?:(?:{_DAYS}),?\s+)?(?:{_MONTHS})\.?\s+\d{{1,2}}{_ORD}(?:,?\s+\d{{4}})?
      | \d{{4}}-\d{{2}}-\d{{2}}
      | \d{{1,2}}/\d{{1,2}}/\d{{2,4}}
      | (?:today|yesterday|tomorrow)
      | \d+\s+(?:days?|weeks?)\s+ago
      | (?:last|this|on)\s+(?:{_DAYS})\b(?!,?\s+(?:the\s+)?\d)
      | (?:the\s+)\d{{1,2}}(?:st|nd|rd|th)\b
    )""",
    re.IGNORECASE | re.VERBOSE,
)

# Phrases that name an event; most specific first (an "initial conference" is not a "review conference").
EVENTS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (event, re.compile(pattern, re.IGNORECASE))
    for event, pattern in (
        ("strategy-discussion", r"\bstrategy\s+(?:discussion|meeting)s?\b"),
        ("icpc", r"\b(?:initial\s+(?:child\s+protection\s+)?(?:case\s+)?conference|icpc)\b"),
        ("review", r"\breview(?:\s+(?:child\s+protection\s+)?conference)?s?\b"),
        ("core-group", r"\bcore\s+group\b"),
        ("receiving-in-conference", r"\breceiving[- ]in\b"),
        ("move-in", r"\bmoved?\s+(?:in|into|to)\b"),
        ("referral", r"\breferr(?:al|ed)\b"),
        ("allegation", r"\ballegation\b"),
        ("unexpected-death", r"\b(?:died|unexpected\s+death)\b"),
        ("death-notification", r"\bnotif(?:ied|ication)\s+of\s+(?:the\s+)?death\b"),
        ("death-registered", r"\bdeath\s+(?:was\s+)?registered\b"),
        ("employment-start", r"\b(?:started|starting|joined)\b"),
        ("conference", r"\b(?:child\s+protection\s+|cp\s+)?conference\b"),
        ("initial-assessment", r"\binitial\s+assessment\b"),
        ("core-assessment-start", r"\bcore\s+assessment\b"),
        ("visit", r"\b(?:visit(?:ed)?|seen|saw)\b"),
    )
)
_ASKING = re.compile(r"\b(?:when|by when|deadline|due|latest|how long|how many|date)\b", re.IGNORECASE)


@dataclass(frozen=True)
class TimescaleRequest:
    rule_id: str
    trigger: str
    start: date
    date_text: str


@dataclass(frozen=True)
class _Found:
    text: str
    start: int
    end: int


# A question about how long something may take, with no date to count from ("how long do I have to
# finish the core assessment?", "how often must the child be seen?").
_TIMING = re.compile(
    r"\b(?:how\s+(?:long|often|quickly|soon|frequently|many\s+(?:days|weeks|months))|by\s+when|when\s+(?:is|are|does|do|must|should|will)"
    r"|deadline|timescales?|time\s*limits?|time\s*frame)\b",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"(?<=[.?!])\s+")
# ... and one about how often something recurs ("how often", "every", "between reviews").
FREQUENCY = re.compile(
    r"\b(?:how\s+(?:often|frequently)|every|between|intervals?|regularly)\b", re.IGNORECASE
)


def timing_asked(question: str, vocabulary: Vocabulary | None = None) -> list[str]:
    """The events whose timescale a question asks about without giving a date: those named in the
    sentence that asks ("how often", "when is ... due"), else in the sentence before it (the thing "it"
    refers to). Events are read with the event vocabulary (corpus/events.toml, longest phrase first: a
    "serious case review" is not a review conference), else with the phrases dated questions use.
    [] when the question asks no timing."""
    sentences = _SENTENCE.split(question)
    for i, sentence in enumerate(sentences):
        if _TIMING.search(sentence):
            for part in (sentence, sentences[i - 1] if i else ""):
                named = events_named(part, vocabulary, as_trigger=False)
                if named:
                    return named
    return []


def events_named(text: str, vocabulary: Vocabulary | None, as_trigger: bool = True) -> list[str]:
    """The events a text names, in order: read with the event vocabulary, else with the phrases dated
    questions use. `as_trigger`: also those named only as what a timescale counts from."""
    named = [e for _, e, _ in vocabulary.find(text, as_trigger=as_trigger)] if vocabulary else []
    return list(dict.fromkeys(named or [event for event, _ in _mentions(text)]))


def _mentions(question: str) -> list[tuple[str, _Found]]:
    taken: list[tuple[int, int]] = []
    out: list[tuple[str, _Found]] = []
    for event, pattern in EVENTS:
        for m in pattern.finditer(question):
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue  # already claimed by a more specific phrase
            taken.append((m.start(), m.end()))
            out.append((event, _Found(m.group(0), m.start(), m.end())))
    return sorted(out, key=lambda x: x[1].start)


def parse_date_phrase(text: str, today: date) -> date:
    """One date phrase to a date, relative to `today`. Impossible or unreadable dates raise InvalidQuery."""
    cleaned = re.sub(r"^(?:on|the)\s+", "", text.strip(), flags=re.IGNORECASE)
    day_month = re.search(rf"(\d{{1,2}}){_ORD}\s+(?:of\s+)?({_MONTHS})", cleaned, re.IGNORECASE) or re.search(
        rf"({_MONTHS})\.?\s+(\d{{1,2}})", cleaned, re.IGNORECASE
    )
    if day_month:
        groups = day_month.groups()
        day_text, month_text = (groups[0], groups[1]) if groups[0].isdigit() else (groups[1], groups[0])
        month = _month_number(month_text)
        if not 1 <= int(day_text) <= 31 or (
            month and int(day_text) > (29 if month == 2 else _cal.monthrange(2001, month)[1])
        ):
            raise InvalidQuery(
                f"'{text}' is not a real date: {_cal.month_name[month]} has no day {int(day_text)}"
            )
    parsed = dateparser.parse(
        cleaned,
        languages=["en"],
        settings={
            "RELATIVE_BASE": datetime.combine(today, datetime.min.time()),
            "PREFER_DATES_FROM": "past",
            "DATE_ORDER": "DMY",
            "RETURN_AS_TIMEZONE_AWARE": False,
        },
    )
    if parsed is None:
        raise InvalidQuery(f"'{text}' is not a date safeguide can read: write it like 19 December 2025")
    result = parsed.date()
    named_day = re.match(rf"({_DAYS})\b", cleaned, re.IGNORECASE)
    if named_day and re.search(r"\d", cleaned):
        want = _weekday_number(named_day.group(1))
        if want != result.weekday():
            raise InvalidQuery(
                f"'{text}': {long_date(result)} is a {WEEKDAYS[result.weekday()]}, not a {WEEKDAYS[want]}; "
                "check the date and give the year"
            )
    return result


def _month_number(text: str) -> int:
    t = text.lower()[:3]
    return next(i for i in range(1, 13) if _cal.month_abbr[i].lower() == t)


def _weekday_number(text: str) -> int:
    return next(i for i, d in enumerate(WEEKDAYS) if d.lower().startswith(text.lower()[:3]))


def find_timescale_requests(
    question: str, today: date, rules: RuleSet, authority: str | None = None
) -> list[TimescaleRequest]:
    """The deadlines a question asks about, as rule ids and start dates; [] when it asks none."""
    dates = [_Found(m.group(0), m.start(), m.end()) for m in DATE_PHRASE.finditer(question)]
    if not dates:
        return []
    mentions = _mentions(question)
    if not mentions:
        return []
    parsed = [(d, parse_date_phrase(d.text, today)) for d in dates]
    # Each date belongs to the event named nearest before it (else nearest after it).
    anchored: dict[str, tuple[date, str, int]] = {}
    for found, when in parsed:
        before = [m for m in mentions if m[1].end <= found.start]
        after = [m for m in mentions if m[1].start >= found.end]
        owner = before[-1] if before else (after[0] if after else None)
        if owner is not None and owner[0] not in anchored:
            anchored[owner[0]] = (when, found.text, owner[1].start)
    if not anchored:
        return []
    asked = [m for m in mentions if m[0] not in anchored and _ASKING.search(question)]
    targets = {event for event, _ in asked}
    applicable = rules.for_authority(authority)
    requests: list[TimescaleRequest] = []
    for trigger, (when, text, _) in sorted(anchored.items(), key=lambda x: x[1][2]):
        direct = [r for r in applicable if triggered_by(r, trigger) and r.kind != "threshold"]
        if targets:
            chosen = [
                r for r in direct if r.event in targets or (r.event == "icpc" and "conference" in targets)
            ]
            if not chosen:
                # The target hangs on a later event whose real date is not known yet (a review counts from
                # the conference actually held, not from its deadline): give the deadlines that can be
                # computed from the date given, never a date built on another deadline.
                chosen = [r for r in direct if r.kind == "deadline" and r.direction == "after"]
        else:
            chosen = [r for r in direct if r.kind == "deadline" and r.direction == "after"]
        requests.extend(TimescaleRequest(r.id, trigger, when, text) for r in chosen)
    return requests
