"""The timescale reader on single sentences, and its figures on the labelled statements of every document."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from ingest.timescale_extract import Statement, Vocabulary, find_statements, fingerprint, whole_paragraphs

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


@dataclass(frozen=True)
class Para:
    number: str | None
    heading_path: tuple[str, ...]
    text: str
    part: int = 1


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return Vocabulary.load(CORPUS / "events.toml")


def read(vocab: Vocabulary, text: str) -> list[Statement]:
    return find_statements("doc", [Para("1.1", ("Heading",), text)], vocab)


def amounts(statements: list[Statement]) -> list[tuple[int, str]]:
    return [(s.amount, s.unit) for s in statements]


def test_a_changed_timescale_is_the_old_one_and_the_new_one(vocab: Vocabulary) -> None:
    found = read(vocab, "The time scale for completing a review has been extended from four to six months.")
    assert amounts(found) == [(4, "months"), (6, "months")]
    assert len({fingerprint(s) for s in found}) == 2  # two statements, two rules to review
    assert all(s.trigger is None and s.problems for s in found)  # counted from what: not said, so unmapped
    assert amounts(read(vocab, "Extension of timescales for the assessment from 7 to 10 days")) == [
        (7, "calendar_days"),
        (10, "calendar_days"),
    ]
    assert amounts(read(vocab, "Initial assessment timescale changes to 10 working days")) == [
        (10, "working_days")
    ]


def test_a_range_or_a_move_with_no_change_is_not_a_timescale(vocab: Vocabulary) -> None:
    assert read(vocab, "Children from four to six years old attend the group.") == []
    assert read(vocab, "The family moved to 10 days of respite a year.") == []  # no timing word, no range
    assert read(vocab, "The meeting went from two to three hours.") == []  # no change word, no "timescale"


def test_approximate_timescales_count(vocab: Vocabulary) -> None:
    found = read(vocab, "A third meeting follows the post mortem results, usually 8-12 weeks.")
    assert [(s.amount, s.minimum, s.unit) for s in found] == [(12, 8, "weeks")]
    assert amounts(read(vocab, "The plan may end at the first review (at three months).")) == [(3, "months")]


def test_experience_and_ages_are_not_timescales(vocab: Vocabulary) -> None:
    assert read(vocab, "The lead social worker has at least one years post qualifying experience.") == []
    assert read(vocab, "A social worker with at least two years of relevant experience.") == []
    assert read(vocab, "The review is held at 18 months old for the baby.") == []
    assert read(vocab, "The conference is held within 15 working days of the strategy discussion.")


def test_each_bullet_is_read_on_its_own(vocab: Vocabulary) -> None:
    text = (
        "The administrator will: · send the plan by letter within 5 working days to parents. "
        "· ensure draft minutes reach the chair within 5 working days. "
        "• circulate minutes within 10 working days."
    )
    found = read(vocab, text)
    assert amounts(found) == [(5, "working_days"), (5, "working_days"), (10, "working_days")]
    assert len({fingerprint(s) for s in found}) == 3  # the same words in two bullets are two statements
    assert all(not s.sentence.startswith(("·", "•")) for s in found)


def test_a_paragraph_in_parts_is_read_once_whole(vocab: Vocabulary) -> None:
    parts = [
        Para("2.1", ("H",), "The conference will be held within 15 working"),
        Para("2.1", ("H",), "days of the strategy discussion.", part=2),
        Para("2.2", ("H",), "Minutes go out within 10 working days of the conference."),
    ]
    whole = whole_paragraphs(parts)
    assert [p.number for p in whole] == ["2.1", "2.2"]
    assert amounts(find_statements("doc", whole, vocab)) == [(15, "working_days"), (10, "working_days")]


def test_list_items_under_one_heading_are_read_apart(vocab: Vocabulary) -> None:
    """Unnumbered paragraphs under one heading are separate: the event a list item names is not taken for
    the next item's ("seeing the child" is not what "from 7 to 10 days" times)."""
    items = [
        Para(None, ("Key changes",), "Clearer expectations about the social worker seeing the child"),
        Para(None, ("Key changes",), "Extension of timescales for completion of the IA from 7 to 10 days"),
    ]
    whole = whole_paragraphs(items)
    assert len(whole) == 2
    found = find_statements("doc", whole, vocab)
    assert amounts(found) == [(7, "calendar_days"), (10, "calendar_days")]
    assert all(s.event != "child-seen" for s in found)


def test_extraction_figures_on_the_labelled_statements() -> None:
    """Issue 13's targets, precision >= 0.95 and recall >= 0.9, on the hand-labelled statements of all seven
    development documents and on the held-out document (never tuned on). Pure code: a second or two."""
    from eval.timescale_extraction import run

    report = run()
    for part in ("development", "heldout"):
        assert report[part]["precision"] >= 0.95, (part, report[part]["extra"])
        assert report[part]["recall"] >= 0.9, (part, report[part]["missed"])
