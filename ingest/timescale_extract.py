"""Timescales read from a document's own sentences, turned into rules (issue 13).

Pure code: paragraphs and the document's manifest in, rules and unmapped statements out. A timescale
statement is a duration with a timing word: "within 15 working days of the strategy discussion", "no
later than one working day after", "at least three working days before the conference", "at least
every four weeks", "at intervals of not more than six months", "within 48 hours". A duration without
one ("three or more times in 90 days", "for 12 months", "under the age of two") is not a timescale.
Frequencies written as one word count too ("six-weekly", "fortnightly"), with a number or after "at
least" / "every"; a range is timed by its upper end, its lower end kept as the minimum ("within 1-5
days"). A changed timescale is two statements, the old and the new ("extended from four to six
months"), and so is a new one stated as what it changes to ("changes to 10 working days"); an
approximate one counts ("usually 8-12 weeks", "the first review (at three months)"). A length of
experience or an age ("one years post qualifying experience", "at 18 months old") is not a timescale.
A bulleted list is read one bullet at a time.

For each statement the rule records the amount, the unit, the direction (after the trigger, or at least
so long before it), the kind (deadline, interval, notice), the trigger and the event it times (mapped
onto the one vocabulary of the process in `corpus/events.toml`), who does it where the sentence says
so, the area and edition from the manifest, and the citation (document, paragraph, the words). A
statement whose trigger or event does not map is returned as unmapped, never guessed. Every rule is
marked "extracted": read from the document, not yet reviewed.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ingest.durations import DURATION, FREQUENCY, FREQUENCY_UNITS, UNITS, to_int
from safeguide.wordlists import claim, whole_words

EXTRACTOR_VERSION = "4"

_CLAUSE_END = re.compile(r"[,;:.()]|\band\b|\bwhile\b|\bwhere\b|\bunless\b|\bwhen\b", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z(])|\s*(?:^|\s)[·•▪●◦▶]\s+")
# Words before a "from X to Y" range or a bare duration that make it a change of timescale.
_CHANGE = re.compile(
    r"\b(?:extended|extension|reduced|reduction|shortened|lengthened|increased|changed|changes?|"
    r"amended|revised)\b",
    re.IGNORECASE,
)
# After a duration: a length of experience or an age, not a timescale of the process.
_NOT_A_TIMESCALE = re.compile(
    r"^\s*(?:post[\s-]*qualif\w*|qualified|of\s+(?:\w+\s+)?experience|experience|old\b|of\s+age|pregnan\w*|"
    r"gestation)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Vocabulary:
    """Events and roles with their phrases, from corpus/events.toml."""

    events: dict[str, dict[str, Any]]
    phrases: list[tuple[str, str]]  # (phrase, event id), longest first
    trigger_only: frozenset[str]
    roles: list[tuple[str, str]]  # (phrase, role id), longest first
    # The extractor's version and the file's sha256: when either changes, the next ingest reads every
    # document's timescales again (without re-embedding anything).
    fingerprint: str = ""

    @classmethod
    def load(cls, path: Path) -> Vocabulary:
        raw = path.read_bytes()
        data = tomllib.loads(raw.decode("utf-8"))
        events = {e["id"]: e for e in data.get("event", [])}
        phrases = [(_norm(p), e["id"]) for e in events.values() for p in e["phrases"]]
        roles = [(_norm(p), r["id"]) for r in data.get("role", []) for p in r["phrases"]]
        return cls(
            events,
            sorted(phrases, key=lambda x: -len(x[0])),
            frozenset(e["id"] for e in events.values() if e.get("as_trigger")),
            sorted(roles, key=lambda x: -len(x[0])),
            f"{EXTRACTOR_VERSION}:{hashlib.sha256(raw).hexdigest()}",
        )

    def find(self, text: str, *, as_trigger: bool) -> list[tuple[int, str, str]]:
        """Events named in `text` as (position, event id, phrase), longest phrases claiming words first."""
        wanted = ((p, e) for p, e in self.phrases if as_trigger or e not in self.trigger_only)
        return claim(_norm(text), wanted)

    def role(self, text: str) -> str | None:
        t = _norm(text)
        found = [(m.start(), role) for phrase, role in self.roles for m in whole_words(phrase).finditer(t)]
        return min(found)[1] if found else None


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[‐-―-]", " ", text.lower().replace("’", "'")).split())


@dataclass
class Statement:
    """One timescale statement found in a paragraph."""

    doc_id: str
    paragraph: str | None
    heading: str | None
    sentence: str
    as_written: str
    amount: int
    unit: str
    minimum: int | None
    direction: str
    kind: str
    trigger: str | None
    event: str | None
    who: str | None
    problems: list[str] = field(default_factory=list)


def find_statements(doc_id: str, paragraphs: Iterable[Any], vocab: Vocabulary) -> list[Statement]:
    """Every timescale statement in the paragraphs (objects with number, heading_path and text)."""
    out: list[Statement] = []
    for p in paragraphs:
        text = " ".join(p.text.split())
        heading = p.heading_path[-1] if p.heading_path else None
        for sentence in _SENTENCE.split(text):
            if sentence.strip():
                out.extend(_sentence_statements(doc_id, p.number, heading, sentence.strip(), vocab))
    return out


def whole_paragraphs(paragraphs: Iterable[Any]) -> list[Any]:
    """A long paragraph split into parts (`part` 2 onwards of `parts`) joined again, so each paragraph's text
    is read once and a sentence cut between two parts is read whole. Separate paragraphs stay separate,
    even unnumbered ones under one heading: a list item's clause is not read into the next one's."""
    whole: list[Any] = []
    for p in paragraphs:
        if whole and p.part > 1 and (whole[-1].number, whole[-1].heading_path) == (p.number, p.heading_path):
            whole[-1] = replace(whole[-1], text=whole[-1].text + " " + p.text)
        else:
            whole.append(p)
    return whole


def _sentence_statements(
    doc_id: str, number: str | None, heading: str | None, sentence: str, vocab: Vocabulary
) -> list[Statement]:
    found: list[Statement] = []
    place = (doc_id, number, None if number else heading, sentence)  # each statement's first four fields
    previous_end = 0
    previous_trigger: str | None = None
    for m in DURATION.finditer(sentence):
        cue = " ".join((m.group("cue") or "").lower().split())
        rel = " ".join((m.group("rel") or "").lower().split())
        amount = to_int(m.group("amount"))
        minimum = to_int(m.group("minimum")) if m.group("minimum") else None
        unit = UNITS[" ".join(m.group("unit").lower().split())]
        if _NOT_A_TIMESCALE.match(sentence[m.end("unit") :]):
            continue  # "one years post qualifying experience", "at 18 months old"
        changed = None if cue else _changed(sentence[: m.start()], minimum is not None)
        if changed is not None:
            # "extended from four to six months": the old timescale and the new, each its own statement
            # (the old one's words start at "from", so the two never share a fingerprint); "changes to
            # 10 working days": the new one. What it counts from is seldom said: left unmapped if not.
            clause = sentence[previous_end : m.start()]
            named = [e for _, e, _ in vocab.find(clause, as_trigger=False)]
            event = named[-1] if named else None
            problems = [] if event else ["no event named before the duration maps onto the vocabulary"]
            problems.append("what the timescale counts from does not map onto the vocabulary")
            gives_old, start = changed
            versions = [(minimum, start), (amount, m.start())] if gives_old else [(amount, m.start())]
            for a, begin in versions:
                assert a is not None
                found.append(
                    Statement(
                        *place,
                        " ".join(sentence[begin : m.end()].split()),
                        a,
                        unit,
                        None,
                        "after",
                        "deadline",
                        None,
                        event,
                        vocab.role(clause),
                        list(problems),
                    )
                )
            previous_end = m.end()
            continue
        if (
            not cue
            and rel not in ("before", "prior to", "after", "beforehand", "from", "following")
            and not (m.group("minimum") and rel)
        ):
            continue  # "three times in 90 days", "for 12 months": a duration, not a timescale
        if (
            not cue
            and rel == "from"
            and m.group("minimum") is None
            and re.match(r"\s*(?:to|-)\s", sentence[m.end() :])
        ):
            continue  # "from four to six months": the start of a range
        before = rel.startswith(("before", "prior", "in advance"))
        interval = "every" in cue or "intervals" in cue
        threshold = cue in ("longer than", "more than", "exceeds", "exceed", "over")
        kind = (
            "interval"
            if interval
            else "threshold"
            if threshold
            else "notice"
            if before and cue.startswith(("at least", "no fewer", "no less", "not fewer", "not less"))
            else "deadline"
        )
        # The trigger: what the words after "of/after/before" name, up to the end of the clause.
        rest = sentence[m.end() :]
        stop = _CLAUSE_END.search(rest)
        trigger_text = rest[: stop.start()] if stop else rest
        triggers = vocab.find(trigger_text, as_trigger=True) if rel else []
        trigger = triggers[0][1] if triggers else None
        if trigger is None and rel:
            trigger = _referred_back(trigger_text, sentence[: m.start()], vocab)  # "after the discussion"
        # The event: the phrase nearest before the duration, in its clause, that is not the trigger.
        clause = sentence[previous_end : m.start()]
        named = [
            _specific(e, phrase, sentence[: m.start()], vocab)
            for _, e, phrase in vocab.find(clause, as_trigger=False)
        ]
        others = [e for e in named if e != trigger]
        event = others[-1] if others else (named[-1] if interval and named else None)
        if trigger is None and interval:
            trigger = event  # "core group meetings at least every four weeks": counted from the last one
        if trigger is None and event is not None and others[:-1]:
            trigger = others[-2]  # "the practitioner who receives a challenge should respond within ..."
        if trigger is None and (not rel or before):
            trigger = previous_trigger  # "... and the referrer told within three working days"
        problems = []
        if event is None:
            problems.append("no event named before the duration maps onto the vocabulary")
        if trigger is None:
            problems.append("what the timescale counts from does not map onto the vocabulary")
        if event is not None and event == trigger and not interval:
            problems.append("the event and what it counts from are the same")
        end = m.end() + (len(trigger_text) if rel and trigger_text.strip() else 0)
        found.append(
            Statement(
                *place,
                " ".join(sentence[m.start() : end].split()),
                amount,
                unit,
                minimum,
                "before" if before else "after",
                kind,
                trigger,
                event,
                vocab.role(clause),
                problems,
            )
        )
        # The next clause starts after this one's trigger ("..., and then every six weeks").
        previous_end = end
        previous_trigger = trigger
    for m in FREQUENCY.finditer(sentence):
        after_cue = re.search(
            r"(?:at\s+least|every|intervals?\s+of)\s*$", sentence[: m.start()], re.IGNORECASE
        )
        if not (m.group("amount") or after_cue) or any(f.as_written.find(m.group()) >= 0 for f in found):
            continue  # a bare "weekly" with no "at least" or "every" is a description, not a timescale
        word = m.group("unit").lower()
        amount = to_int(m.group("amount")) if m.group("amount") else 1
        unit = FREQUENCY_UNITS[word]
        amount *= 2 if word == "fortnightly" else 1
        before_text = sentence[: m.start()]
        bounds = list(_CLAUSE_END.finditer(before_text))
        clause = before_text[bounds[-1].end() :] if bounds else before_text
        named = [e for _, e, _ in vocab.find(clause, as_trigger=False)]
        event = named[-1] if named else None
        found.append(
            Statement(
                *place,
                " ".join(sentence[m.start() : m.end()].split()),
                amount,
                unit,
                None,
                "after",
                "interval",
                event,
                event,
                vocab.role(clause),
                [] if event else ["no event named in the frequency's clause maps onto the vocabulary"],
            )
        )
    return found


def _changed(before: str, is_range: bool) -> tuple[bool, int] | None:
    """If the duration after `before` is a changed timescale: whether it gives the old one too, and where
    the words start. "(extended) from four to six months": a range after "from", with a change word or
    "timescale" earlier in the sentence (old and new); "(the timescale) changes to 10 working days": after
    "to", with "timescale" earlier (the new one). None for any other duration."""
    ending = re.search(r"\b(from|to)\s*$", before, re.IGNORECASE)
    if ending is None or (ending.group(1).lower() == "from" and not is_range):
        return None
    earlier = before[: ending.start()]
    gives_old = ending.group(1).lower() == "from"
    timescale = re.search(r"\btime\s?scales?\b", earlier, re.IGNORECASE)
    # "changes to 10 working days" only where the sentence says it is of a timescale ("the family moved
    # to 10 days of respite" is not); a "from X to Y" range also after a change word ("extended").
    if not (timescale or (gives_old and _CHANGE.search(earlier))):
        return None
    return gives_old, ending.start()


def _specific(event: str, phrase: str, earlier: str, vocab: Vocabulary) -> str:
    """A one-word phrase ("the Conference") names the specific event named earlier in the sentence
    whose phrase ends with that word ("Initial Child Protection Conference"), if there is one."""
    if " " in phrase:
        return event
    text = _norm(earlier)
    found = [
        (m.end(), len(p), e)  # the latest, and the fullest of phrases ending at the same word
        for p, e in vocab.phrases
        if " " in p and p.split()[-1] == phrase and e != event
        for m in whole_words(p).finditer(text)
    ]
    return max(found)[2] if found else event


def _referred_back(trigger_text: str, earlier: str, vocab: Vocabulary) -> str | None:
    """ "the discussion", "that meeting": the event named earlier in the sentence whose phrase ends with
    the same noun ("strategy discussion", "core group meeting")."""
    words = re.findall(r"[a-z]+", _norm(trigger_text))
    if not words or words[0] not in ("the", "that", "this", "their", "its", "such"):
        return None
    text = _norm(earlier)
    candidates = [
        (len(phrase), -m.start(), event)
        for phrase, event in vocab.phrases
        if phrase.split()[-1] in words[1:3]
        for m in whole_words(phrase).finditer(text)
    ]
    return min(candidates)[2] if candidates else None  # the plainest phrase, the latest if several


def fingerprint(s: Statement) -> str:
    """What identifies a statement across ingests: its document, place and words. A review is kept while
    the fingerprint is unchanged; changed words are a new statement, to be reviewed again."""
    where = s.paragraph or s.heading or "text"
    raw = "|".join((s.doc_id, where, " ".join(s.sentence.split()), s.as_written))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]


def rules_from(
    statements: Sequence[Statement], manifest: Any, vocab: Vocabulary
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rules (as dicts for `Rule.model_validate`) for the mapped statements; the rest, unmapped (the same
    fields, trigger or event missing, and why). Each carries its statement's fingerprint."""
    rules: list[dict[str, Any]] = []
    unmapped: list[dict[str, Any]] = []
    for s in statements:
        where = s.paragraph or s.heading or "text"
        fp = fingerprint(s)
        citation: dict[str, str] = {"doc_id": s.doc_id, "evidence": s.as_written}
        citation["paragraph" if s.paragraph else "heading"] = where
        item = {
            "id": f"{s.doc_id}:{where}:{fp[:6]}",
            "fingerprint": fp,
            "name": vocab.events[s.event]["name"].capitalize() if s.event else "",
            "trigger": s.trigger,
            "event": s.event,
            "amount": s.amount,
            "minimum": s.minimum,
            "unit": s.unit,
            "direction": s.direction,
            "kind": s.kind,
            "as_written": s.sentence,
            "editions": [manifest.edition],
            "authority": manifest.authority,
            "citation": citation,
            "status": "extracted",
            "who": s.who or "",
        }
        if s.problems:
            unmapped.append({**item, "doc_id": s.doc_id, "where": where, "why": "; ".join(s.problems)})
        else:
            rules.append(item)
    return rules, unmapped
