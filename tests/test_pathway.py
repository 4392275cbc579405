"""'What do I do next?': the pathway file, placing a question on it, and the cited, dated answer."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from safeguide.chat.pathway import ASKS_NEXT, Pathway
from safeguide.errors import CorpusError

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
TODAY = date(2026, 3, 20)


def _ask(retriever, question: str, authority: str | None = "hampshire"):  # type: ignore[no-untyped-def]
    """The question through the extractive chain as the app builds it, on 20 March 2026."""
    from tests.test_eval_gate import _extractive_chain

    return _extractive_chain(retriever).answer(question, authority=authority, today=TODAY)


def test_the_pathway_file_loads_and_every_step_leads_somewhere_known() -> None:
    pathway = Pathway.load(CORPUS / "pathway.toml")
    assert {"refer-to-social-care", "strategy-discussion", "icpc", "core-group", "lado"} <= set(pathway.steps)
    for step in pathway.steps.values():
        assert step.cites, step.id
    first = pathway.steps["refer-to-social-care"]
    assert [s.id for s in pathway.following(first, None)][:3] == [
        "refer-to-social-care",
        "confirm-referral-in-writing",
        "referral-decision",
    ]


def test_a_broken_pathway_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "pathway.toml"
    bad.write_text('[[step]]\nid = "a"\nname = "A"\nwho = "x"\ndescribes = "y"\nnext = ["nowhere"]\n')
    with pytest.raises(CorpusError, match="unknown steps"):
        Pathway.load(bad)
    bad.write_text("[[step]\n")
    with pytest.raises(CorpusError, match="pathway file"):
        Pathway.load(bad)


class _WordEmbedder:
    """Fake embedder at the model seam: one axis per known word, so closeness is shared words."""

    WORDS = ("bruise", "baby", "death", "review", "school")

    def _vec(self, text: str) -> list[float]:
        words = set(re.findall(r"[a-z]+", text.lower()))
        v = [1.0 if w in words else 0.0 for w in self.WORDS]
        norm = sum(x * x for x in v) ** 0.5 or 1.0
        return [x / norm for x in v]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._vec(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vec(text)


def test_a_question_naming_an_edition_is_placed_only_on_steps_that_edition_speaks_to(tmp_path: Path) -> None:
    """ "Under WT 2018" asks about that edition: a step is placed by its paragraphs of that edition, and a
    step with none is not considered (it could only be answered from another edition's guidance)."""
    from safeguide.chat.pathway import Navigator

    path = tmp_path / "pathway.toml"
    path.write_text(
        '[[step]]\nid = "old"\nname = "Old"\nwho = "x"\ndescribes = "something"\n'
        'cites = [["doc2010", "1.1"]]\n'
        '[[step]]\nid = "both"\nname = "Both"\nwho = "x"\ndescribes = "something else"\n'
        'cites = [["doc2010", "2.1"], ["doc2018", "Reviews"]]\n'
    )
    texts = {
        ("doc2010", "1.1"): "a bruise on a baby",
        ("doc2010", "2.1"): "school",
        ("doc2018", "Reviews"): "a baby review",
    }
    editions = {"doc2010": "2010", "doc2018": "2018"}
    navigator = Navigator(Pathway.load(path), _WordEmbedder(), lambda d, r: texts.get((d, r)), editions.get)
    assert navigator.place("bruise on a baby, what next?", None).step.id == "old"  # type: ignore[union-attr]
    placed = navigator.place("bruise on a baby, what next?", None, "2018")
    assert placed is not None and placed.step.id == "both" and set(placed.scores) == {"both"}
    assert navigator.cites_in(placed.step, "2018") == [("doc2018", "Reviews")]
    assert navigator.cites_in(placed.step, None) == [("doc2010", "2.1"), ("doc2018", "Reviews")]
    assert navigator.place("bruise on a baby, what next?", None, "2013") is None
    # with no edition named, a step whose paragraphs are not held is still placed by its description
    alone = tmp_path / "alone.toml"
    alone.write_text(
        '[[step]]\nid = "unheld"\nname = "Unheld"\nwho = "x"\ndescribes = "a school review"\n'
        'cites = [["elsewhere", "9.9"]]\n'
    )
    unheld = Navigator(Pathway.load(alone), _WordEmbedder(), lambda d, r: None, editions.get)
    assert unheld.place("a school review, what next?", None).step.id == "unheld"  # type: ignore[union-attr]
    assert unheld.place("a school review, what next?", None, "2018") is None


@pytest.mark.slow
def test_next_steps_under_a_named_edition_cite_only_that_edition(retriever) -> None:  # type: ignore[no-untyped-def]
    """A question about WT 2018 was answered with steps cited from the 2010-era Hampshire procedure; with
    the edition named, every step and timescale cites a document of that edition."""
    answer = _ask(
        retriever,
        "Under Working Together 2018 we need a strategy discussion about a child. What happens next?",
        authority=None,
    )
    assert not answer.refused, answer.answer
    assert answer.citations and {s.edition for s in answer.citations} == {"2018"}, [
        (s.doc_id, s.edition) for s in answer.citations
    ]
    assert all(t["citation"]["doc_id"] == "wt2018-briefing" for t in answer.timescales)
    before = _ask(
        retriever, "We need a strategy discussion about a child. What happens next?", authority=None
    )
    assert "2010" in {s.edition for s in before.citations}  # without the edition, the pathway's own mix


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("I've seen a bruise on a baby. What do I do next?", True),
        ("Who do I tell?", True),
        ("What happens now?", True),
        ("What are my next steps?", True),
        ("They have moved here from another area. What steps do I take?", True),
        ("What is a strategy discussion?", False),
        ("When is the ICPC due?", False),
    ],
)
def test_what_next_questions_are_recognised(text: str, asks: bool) -> None:
    assert bool(ASKS_NEXT.search(text)) is asks


def test_later_steps_need_the_question_to_say_how_far_the_case_has_got() -> None:
    steps = Pathway.load(CORPUS / "pathway.toml").steps
    concern = "A child at school told me her stepdad hits her. What should I do?"
    assert steps["refer-to-social-care"].considered_for(concern)
    assert not steps["core-group"].considered_for(concern)
    assert not steps["report-allegation"].considered_for(concern)  # no allegation against a worker
    assert steps["core-group"].considered_for("The child is now on a plan. What happens next?")
    assert steps["core-group"].considered_for("Both children are on plans now. What happens next?")  # plural
    assert not steps["core-group"].considered_for("The planets are aligned. What happens next?")
    # Visiting is what every practitioner does: seeing a child on a plan needs the plan to be said.
    assert not steps["visits"].considered_for("I did a new birth visit and mum has a black eye. What now?")


@pytest.mark.slow
def test_a_concern_gets_ordered_cited_steps_with_dates_from_the_module(retriever) -> None:  # type: ignore[no-untyped-def]
    answer = _ask(
        retriever, "I'm a health visitor and I've seen a bruise on a 4 month old baby. What do I do next?"
    )
    lines = answer.answer.splitlines()
    assert lines[0] == "Next steps:" and lines[1].startswith("1. Refer to children's social care"), (
        answer.answer
    )
    cited = {(s.doc_id, s.paragraph) for s in answer.citations}
    assert ("hampshire-csd-2011", "2.1.9") in cited and ("hampshire-csd-2011", "7.1.11") in cited
    assert answer.provenance["pathway"]["step"] == "refer-to-social-care"
    # the date of the written confirmation comes from the timescales module, with its citation
    written = next(t for t in answer.timescales if t["event"] == "referral-confirmed-in-writing")
    assert written["due"] == "2026-03-22" and written["citation"]["paragraph"] == "7.1.11"
    assert "by Sunday 22 March 2026" in answer.answer
    assert not answer.refused


def test_a_step_is_cited_from_the_users_own_area_first(retriever) -> None:  # type: ignore[no-untyped-def]
    """The transfer-in step cites both areas' paragraphs; each user reads their own area's first."""
    question = "A child on a Surrey plan has moved in with her aunt here. What steps do I take?"
    for area, own in (("hampshire", "hampshire-csd-2011"), ("staffordshire", "staffordshire-part6")):
        answer = _ask(retriever, question, authority=area)
        assert answer.provenance["pathway"]["step"] == "transfer-in", answer.answer
        first = answer.answer.splitlines()[1]
        marks = [int(m) for m in re.findall(r"\[(\d+)\]", first)]
        assert marks and all(answer.citations[m - 1].doc_id == own for m in marks), (area, answer.answer)


@pytest.mark.slow
def test_a_what_next_question_on_the_pathway_is_never_off_topic(retriever) -> None:  # type: ignore[no-untyped-def]
    """No word of the message is a safeguarding word, but it asks what to do next about a child being hit:
    it was refused as off-topic (with only the 999 notice); it gets the next steps, the notice first."""
    from safeguide.safety import EMERGENCY_NOTICE
    from tests.test_eval_gate import _extractive_chain

    chain = _extractive_chain(retriever)
    answer = chain.answer("worried about a girl in my class, her stepdad hits her. what do I do next?")
    assert not answer.refused, answer.answer
    assert answer.answer.startswith("Next steps:") and answer.citations
    assert answer.notices[0] == EMERGENCY_NOTICE
    car = chain.answer("my car is making a noise, what do I do next?")
    assert car.refused and "outside what I can help with" in car.answer


@pytest.mark.slow
def test_with_none_of_the_pathways_documents_the_question_is_answered_from_what_is_held(  # type: ignore[no-untyped-def]
    embedder, corpus_copy, tmp_path
) -> None:
    """A deployment holding only its own procedure: the pathway's steps cite paragraphs it does not hold.
    It answered a bare "Next steps:" with nothing under it; now the question goes to the documents held."""
    from ingest.store import IndexLocation, ingest
    from safeguide.retrieval.hybrid import HybridRetriever
    from tests.test_eval_gate import _extractive_chain

    for doc in corpus_copy.glob("00*.txt"):
        if not doc.name.startswith("003_"):  # Staffordshire only: the pathway cites Hampshire for this step
            doc.unlink()
            doc.with_suffix(".toml").unlink()
    location = IndexLocation(tmp_path / "index")
    ingest([corpus_copy], location, embedder, max_bytes=10**8)
    chain = _extractive_chain(HybridRetriever(location, embedder))
    answer = chain.answer(
        "I'm a health visitor and I've seen a bruise on a 4 month old baby. What do I do next?"
    )
    assert answer.answer.strip() != "Next steps:", answer.answer
    assert "pathway" not in answer.provenance
    assert all(s.doc_id == "staffordshire-part6" for s in answer.citations)


@pytest.mark.parametrize(
    ("text", "events"),
    [
        (
            "Core assessment started after the s47 was agreed. How long have I got to finish it?",
            ["core-assessment"],
        ),
        ("How often must the lead social worker visit a child on a plan?", ["visit"]),
        ("Is a serious case review needed, and how long does it take?", ["scr-completed"]),
        ("When is the first review due?", ["review"]),
        ("I saw a bruise on a baby. What do I do?", []),  # "saw" names a visit, but no timing is asked
        ("What does the core group do?", []),
    ],
)
def test_timing_questions_name_the_event_they_ask_about(text: str, events: list[str]) -> None:
    from ingest.timescale_extract import Vocabulary
    from safeguide.timescales.questions import timing_asked

    assert timing_asked(text, Vocabulary.load(CORPUS / "events.toml")) == events


@pytest.mark.slow
def test_how_long_with_no_date_is_answered_from_the_areas_rule(retriever) -> None:  # type: ignore[no-untyped-def]
    """It was a quote of the wrong paragraph (7.5.17, what a core assessment includes); it is Hampshire's
    rule with the paragraph that sets it, and no date (there is none to count from)."""
    answer = _ask(
        retriever, "Core assessment started after the s47 was agreed. How long have I got to finish it?"
    )
    lines = answer.answer.splitlines()
    assert lines[0] == "Timescales:", answer.answer
    assert "35 days after the start of the core assessment" in lines[1], answer.answer
    assert "(Hampshire's rule)" in lines[1]
    assert ("hampshire-csd-2011", "7.5.19") in {(s.doc_id, s.paragraph) for s in answer.citations}
    assert answer.timescales == []  # no due date without a start date
    # A serious case review is not a review conference: its own rule, never the three-month review.
    scr = _ask(
        retriever,
        "A child has died and neglect is suspected. How long does a serious case review take?",
        None,
    )
    assert "Serious case review completed: 6 months" in scr.answer, scr.answer
    assert "review conference" not in scr.answer.lower() and "3 months" not in scr.answer


@pytest.mark.slow
def test_next_steps_also_say_what_the_search_found(retriever) -> None:  # type: ignore[no-untyped-def]
    """Placed on the conference step, the answer used to list only the pathway's steps; the paragraphs on
    a child attending their own conference, which the search found, are now quoted after them."""
    answer = _ask(
        retriever,
        "The 12 year old wants to come to her own conference. How do I decide and what do I need to do "
        "to prepare her?",
    )
    text = answer.answer
    assert text.startswith("Next steps:") and "\nWhat the guidance says about this:\n- " in text, text
    quoted = text.split("What the guidance says about this:")[1]
    numbers = {int(n) for n in re.findall(r"\[(\d+)\]", quoted)}
    paragraphs = {s.paragraph for s in answer.citations if s.n in numbers}
    assert paragraphs and all(p and p.startswith("8.8.") for p in paragraphs), paragraphs
    for s in answer.citations:  # every quote is word for word from the passage it cites
        if s.n in numbers:
            quote = re.search(rf"“([^”]+)\.” \[{s.n}\]", quoted)
            assert quote and quote.group(1) in " ".join(s.text.split()), s.n


@pytest.mark.slow
def test_a_timing_question_gets_the_rule_that_fits_it(retriever) -> None:  # type: ignore[no-untyped-def]
    """A review is timed from the initial conference, from the last review and (in Hampshire) from a
    transfer conference. "Between reviews" asks for the recurring rule, "the first review" for the one
    from the conference; both were given the transfer conference's rule first, the area's own."""
    between = _ask(retriever, "Roughly how many weeks between review conferences?").answer.splitlines()
    assert between[1].startswith("1. Following review conferences: at least every 6 months"), between
    first = _ask(retriever, "When is the first review due?").answer.splitlines()
    assert first[1].startswith(
        "1. First review conference: 3 months after the initial child protection conference"
    ), first
    # with no date, the answer asks for the date of what it counts from, in words, not the rule's id
    assert "Give the date of the initial child protection conference for the date it is due." in first, first


@pytest.mark.slow
def test_each_next_step_is_timed_from_the_step_that_leads_to_it(retriever) -> None:  # type: ignore[no-untyped-def]
    """A review is timed from the initial conference or (in Hampshire) from a transfer-in conference.
    After an initial conference, Hampshire's review step was timed from a transfer conference, Hampshire's
    own rule for another start ("3 months after the transfer-in conference"): a wrong deadline for the
    step. The start that leads to the step on the pathway comes first, in this answer's steps."""
    after_icpc = _ask(
        retriever, "Our ICPC was on 2 March 2026. When is the first core group and what comes after?"
    ).answer
    # Hampshire holds the first core group straight after the conference: no "0 working days"
    assert after_icpc.startswith(
        "First core group meeting (Hampshire, from November 2010) is due by Monday 2 March 2026: the same "
        "day as the initial child protection conference on Monday 2 March 2026"
    ), after_icpc
    review = next(x for x in after_icpc.splitlines() if "review conference" in x)
    assert "(3 months after the initial child protection conference)" in review, review
    placed = _ask(retriever, "The initial conference has just put the child on a plan. What happens next?")
    review = next(x for x in placed.answer.splitlines() if x.startswith("4. Hold the first review"))
    assert "3 months after the initial child protection conference" in review, placed.answer
    moved = _ask(
        retriever, "A child on a plan has moved into Hampshire from another area. What do we do next?"
    )
    review = next(x for x in moved.answer.splitlines() if "Hold the first review" in x)
    assert "3 months after the transfer-in conference (Hampshire's rule)" in review, moved.answer
    # Staffordshire's receiving-in conference was timed as an event of its own that no step names; it is
    # the transfer-in conference, so the step gets Staffordshire's 15 working days
    staffs = _ask(
        retriever,
        "A child on a plan in another council has just moved to Staffordshire. What do we do next?",
        authority="staffordshire",
    ).answer.splitlines()
    assert staffs[1].startswith("1. Arrange a receiving-in (transfer) conference"), staffs
    assert "15 working days after the child's move into the area (Staffordshire's rule)" in staffs[1]
