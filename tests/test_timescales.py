"""Timescale rules: the data, due dates with their conventions, plans, and citations into the corpus."""

from __future__ import annotations

import re
from datetime import date, time
from pathlib import Path

import pytest

from ingest.lexical import NUMBER_WORDS
from safeguide.errors import InvalidQuery
from safeguide.retrieval.citations import find_passage
from safeguide.timescales.calendar import default_calendar
from safeguide.timescales.questions import find_timescale_requests, parse_date_phrase
from safeguide.timescales.rules import RulesError, RuleSet, UnknownTimescale, due, plan
from tests.conftest import CORPUS

RULES = RuleSet.load(CORPUS / "timescales.toml")
CAL = default_calendar()


@pytest.mark.parametrize(
    ("rule_id", "amount", "unit", "trigger", "event"),
    [
        ("referral-decision", 1, "working_days", "referral", "referral-decision"),
        ("initial-assessment", 10, "working_days", "referral", "initial-assessment"),
        ("icpc", 15, "working_days", "strategy-discussion", "icpc"),
        ("core-group-first", 10, "working_days", "icpc", "core-group"),
        ("review-first", 3, "months", "icpc", "review"),
        ("review-subsequent", 6, "months", "review", "review"),
    ],
)
def test_national_defaults_exist_with_their_meaning(
    rule_id: str, amount: int, unit: str, trigger: str, event: str
) -> None:
    r = RULES.get(rule_id)
    assert (r.amount, r.unit, r.trigger, r.event, r.authority) == (amount, unit, trigger, event, "national")
    assert "2010" in r.editions


def test_every_timescale_in_the_domain_table_has_a_rule() -> None:
    # One id per row of the DOMAIN.md table (several rows have more than one rule).
    for rule_id in (
        "referral-decision",
        "referral-to-assessment-team",
        "referral-written-confirmation",
        "referral-acknowledgement",
        "concern-conclusion-recorded",
        "lado-informed",
        "initial-assessment",
        "core-assessment-hampshire",
        "core-assessment-staffordshire",
        "s47-child-seen",
        "curfew-breach-response",
        "icpc",
        "conference-invitations",
        "report-to-chair",
        "report-to-parents",
        "conference-decisions-circulated",
        "outcome-letter-to-parents",
        "conference-record-entry",
        "plan-to-professionals-email",
        "plan-by-letter",
        "draft-minutes-to-chair",
        "minutes-circulated",
        "inquorate-chair-confirms",
        "inquorate-reconvene",
        "plan-lodged-with-chair",
        "core-group-first",
        "core-group-first-hampshire",
        "core-group-subsequent",
        "core-group-minutes",
        "review-first",
        "review-subsequent",
        "transfer-conference-considered",
        "transfer-review",
        "receiving-in-conference",
        "review-invitations",
        "review-reports",
        "neglect-plan-first-review",
        "plan-over-12-months",
        "child-seen-wt2010",
        "child-seen-staffordshire",
        "child-seen-hampshire",
        "rapid-response-first",
        "rapid-response-second",
        "rapid-response-third",
        "registrar-informs-lscb",
        "form-b-returned",
        "scr-completed",
        "induction-completed",
        "refresher-training",
    ):
        RULES.get(rule_id)


def test_conflicts_are_kept_apart_and_marked_both_ways() -> None:
    for r in RULES.rules.values():
        for other in r.conflicts_with:
            assert r.id in RULES.get(other).conflicts_with, f"{r.id} -> {other} is one-sided"
    assert (
        RULES.get("icpc-wt2010-summary").ambiguous
        and RULES.get("icpc-wt2010-summary").unit == "calendar_days"
    )
    seen = {
        RULES.get(i).amount for i in ("child-seen-wt2010", "child-seen-staffordshire", "child-seen-hampshire")
    }
    assert seen == {6, 3, 2}
    assert RULES.get("core-group-first-hampshire").amount == 0


def test_ambiguous_units_record_text_and_reading() -> None:
    ambiguous = [r for r in RULES.rules.values() if r.ambiguous]
    assert {r.id for r in ambiguous} >= {
        "icpc-wt2010-summary",
        "core-assessment-hampshire",
        "core-assessment-staffordshire",
        "inquorate-reconvene",
    }
    for r in ambiguous:
        assert r.reading and r.as_written


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[rule]]\nid="a"\n', "name"),
        ("not toml [", "timescales.toml"),
    ],
)
def test_a_broken_rules_file_is_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "timescales.toml"
    path.write_text(text)
    with pytest.raises(RulesError, match=message):
        RuleSet.load(path)


def test_duplicate_ids_and_unknown_conflicts_are_refused() -> None:
    rule = RULES.get("icpc")
    with pytest.raises(RulesError, match="duplicate rule ids: icpc"):
        RuleSet([rule, rule])
    lone = rule.model_copy(update={"conflicts_with": ["nope"]})
    with pytest.raises(RulesError, match="unknown rules"):
        RuleSet([lone])


def test_unknown_rule_lists_near_matches() -> None:
    with pytest.raises(UnknownTimescale, match="did you mean icpc"):
        RULES.get("icpcc")
    with pytest.raises(UnknownTimescale, match="timescales list"):
        RULES.get("zzzz")


def test_icpc_over_christmas() -> None:
    r = due(RULES.get("icpc"), date(2025, 12, 19), CAL)
    assert r.due == date(2026, 1, 14) and r.weekday == "Wednesday"
    assert r.due_text == "Wednesday 14 January 2026"
    assert ("Christmas Day" in [s.reason for s in r.skipped]) and len(r.skipped) == 11
    assert "day 0 is Friday 19 December 2025" in r.explanation
    assert set(r.conventions) == {"working_day", "day_zero"}


def test_start_on_a_non_working_day_is_stated() -> None:
    r = due(RULES.get("icpc"), date(2025, 12, 20), CAL)
    assert r.due == date(2026, 1, 14)
    assert any("Saturday 20 December 2025 is not a working day" in w for w in r.warnings)


def test_hours_are_calendar_time_across_a_weekend() -> None:
    r = due(RULES.get("referral-written-confirmation"), date(2026, 1, 16), CAL, time(15, 30))
    assert (r.due, r.due_time) == (date(2026, 1, 18), time(15, 30))
    assert r.due_text == "Sunday 18 January 2026 at 15:30"
    assert any("not a working day (Sunday)" in w and "Friday 16 January 2026" in w for w in r.warnings)


def test_notice_before_an_event() -> None:
    r = due(RULES.get("report-to-chair"), date(2026, 1, 14), CAL)
    assert r.due == date(2026, 1, 12) and r.direction == "before"
    r = due(RULES.get("review-reports"), date(2026, 4, 14), CAL)  # five working days before a Tuesday
    assert r.due == date(2026, 4, 7)
    assert [s.date for s in r.skipped] == [date(2026, 4, 12), date(2026, 4, 11)]


def test_month_clamp_is_shown() -> None:
    r = due(RULES.get("review-first"), date(2025, 8, 31), CAL)
    assert r.due == date(2025, 11, 30)
    assert any("has no day 31" in w for w in r.warnings)
    assert any("plan for Friday 28 November 2025" in w for w in r.warnings)


def test_ambiguous_rule_says_how_it_was_read() -> None:
    r = due(RULES.get("icpc-wt2010-summary"), date(2025, 12, 19), CAL)
    assert r.due == date(2026, 1, 3)
    assert any("read it as calendar days" in w for w in r.warnings)


def test_plans_per_area() -> None:
    national = [(s.rule_id, s.due.due) for s in plan(RULES, "icpc", date(2026, 1, 14), CAL)]
    assert national == [
        ("conference-decisions-circulated", date(2026, 1, 15)),
        ("core-group-first", date(2026, 1, 28)),
        ("review-first", date(2026, 4, 14)),
        ("review-subsequent", date(2026, 10, 14)),
        ("review-subsequent", date(2027, 4, 14)),
    ]
    staffs = [s.rule_id for s in plan(RULES, "icpc", date(2026, 1, 14), CAL, "staffordshire")]
    assert staffs[:3] == ["conference-decisions-circulated", "core-group-first", "plan-lodged-with-chair"]
    assert "review-first-staffordshire" in staffs and "review-first" not in staffs
    hants = plan(RULES, "icpc", date(2026, 1, 14), CAL, "hampshire")
    assert hants[0].rule_id == "core-group-first-hampshire" and hants[0].due.due == date(2026, 1, 14)
    assert "minutes-circulated" in [s.rule_id for s in hants]
    with pytest.raises(UnknownTimescale, match="did you mean icpc"):
        plan(RULES, "icpcx", date(2026, 1, 14), CAL)


TODAY = date(2026, 1, 5)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        (
            "The strategy discussion was on Friday 19 December, when is the conference due?",
            [("icpc", date(2025, 12, 19))],
        ),
        ("strategy meeting yesterday - when must the ICPC happen?", [("icpc", date(2026, 1, 4))]),
        (
            "We had the initial conference on the 3rd. When is the first review?",
            [("review-first", date(2026, 1, 3))],
        ),
        ("Strategy discussion 19/12/2025, conference deadline?", [("icpc", date(2025, 12, 19))]),
        ("What does a core group do?", []),
        ("When is the conference due?", []),
    ],
)
def test_questions_to_requests(question: str, expected: list[tuple[str, date]]) -> None:
    found = find_timescale_requests(question, TODAY, RULES)
    assert [(r.rule_id, r.start) for r in found] == expected


def test_area_rules_are_used_in_questions() -> None:
    found = find_timescale_requests(
        "ICPC was 14/01/2026; when is the core group due?", TODAY, RULES, "hampshire"
    )
    assert [r.rule_id for r in found] == ["core-group-first-hampshire"]


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ("The referral came in on 31 February, when is the assessment due?", "February has no day 31"),
        (
            "Strategy discussion on Thursday 19 December 2025: when is the ICPC?",
            "is a Friday, not a Thursday",
        ),
        ("strategy discussion on 31/04/2025, conference when?", "not a date safeguide can read"),
    ],
)
def test_impossible_dates_are_errors_not_guesses(question: str, message: str) -> None:
    with pytest.raises(InvalidQuery, match=message):
        find_timescale_requests(question, TODAY, RULES)


def test_date_phrases() -> None:
    assert parse_date_phrase("on Friday", TODAY) == date(2026, 1, 2)
    assert parse_date_phrase("19th December 2025", TODAY) == date(2025, 12, 19)
    assert parse_date_phrase("3 days ago", TODAY) == date(2026, 1, 2)


_WORDS = {int(digits): word for word, digits in NUMBER_WORDS.items()} | {
    24: "twenty four",
    35: "thirty five",
    48: "forty eight",
}
_SPECIAL = {"0 working_days": "immediately", "0 calendar_days": "on the day", "2 weeks": "fortnightly"}


@pytest.mark.slow
def test_every_rule_cites_a_real_paragraph_that_states_its_duration(corpus_index, embedder) -> None:  # type: ignore[no-untyped-def]
    from ingest.store import IndexLocation
    from safeguide.retrieval.hybrid import HybridRetriever

    reader = HybridRetriever(IndexLocation(corpus_index / "index"), embedder).reader()
    for r in RULES.rules.values():
        c = r.citation
        passage = find_passage(reader.metas, reader.texts, c.doc_id, c.paragraph, c.heading, c.evidence)
        assert passage is not None, f"{r.id}: {c.doc_id} {c.paragraph or c.heading} lacks {c.evidence!r}"
        wanted = [str(r.amount), _WORDS.get(r.amount, "\0"), _SPECIAL.get(f"{r.amount} {r.unit}", "\0")]
        if r.unit == "years":
            wanted.append(f"{_WORDS[r.amount]} years")
        assert any(re.search(rf"\b{re.escape(w)}", c.evidence, re.IGNORECASE) for w in wanted), (
            f"{r.id}: evidence {c.evidence!r} does not state {r.amount} {r.unit}"
        )


def test_every_event_a_rule_counts_from_is_named_in_words() -> None:
    """Answers say what a timescale counts from ("15 working days after the strategy discussion"). They
    said the rule's id ("after the icpc", "the scr start"): every trigger of the reviewed rules is now an
    event of corpus/events.toml, read after "the" by its `said` form or its name."""
    assert RULES.said("icpc") == "initial child protection conference"
    assert RULES.said("move-in") == "child's move into the area"
    assert RULES.said("strategy-discussion") == "strategy discussion"
    assert RULES.said("an-unknown-event") == "an unknown event"  # a document's own, not yet named
    unnamed = sorted({r.trigger for r in RULES.rules.values()} - set(RULES.names))
    assert not unnamed, f"name these events in corpus/events.toml: {unnamed}"
    # the names travel with the extracted rules and the reviewed subset
    assert RULES.with_extracted([]).said("icpc") == RULES.reviewed().said("icpc") == RULES.said("icpc")
