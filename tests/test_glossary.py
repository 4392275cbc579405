"""The glossary (issue 14): groups of equivalent terms, terms documents define, and their use in search."""

from __future__ import annotations

from pathlib import Path

import pytest

from safeguide.retrieval.glossary import Glossary, defined_terms, normalise
from safeguide.retrieval.tuning import make_pairs

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def test_defined_terms_are_read_only_when_the_initials_spell_the_acronym() -> None:
    text = (
        "Referrals go to the Local Authority Designated Officer (LADO). The Multi-Agency Safeguarding "
        "Hub (MASH) decides. Local Safeguarding Children Boards (LSCBs) remain. See the guidance (p145, "
        "5.39) and the review (April 2010) and the form (CP1)."
    )
    assert defined_terms(text) == [
        ("LADO", "Local Authority Designated Officer"),
        ("MASH", "Multi-Agency Safeguarding Hub"),
        ("LSCB", "Local Safeguarding Children Boards"),
    ]


def test_expansion_adds_the_rest_of_each_group_and_never_the_words_already_used() -> None:
    glossary = Glossary(
        [
            ("LADO", "local authority designated officer", "designated officer"),
            ("CP", "child protection"),
            ("CP plan", "child protection plan"),
        ]
    )
    found = glossary.expand("Do I ring the LADO about a CP plan?")
    assert [(e.used, e.others) for e in found] == [
        ("lado", ("local authority designated officer", "designated officer")),
        ("cp plan", ("child protection plan",)),  # "CP plan" claims its words before "CP" can
    ]
    assert found[0].spelled_out == "local authority designated officer"
    assert glossary.expand("nothing to see here") == []
    # A long form used by the question is not "spelled out" again.
    assert glossary.expand("the designated officer")[0].spelled_out is None


def test_an_abbreviation_is_spelled_out_in_words_and_a_phrase_of_words_is_not() -> None:
    glossary = Glossary(
        [
            ("s47", "s 47", "section 47 enquiry"),
            ("CPP", "CP plan", "child protection plan"),
            ("key worker", "lead social worker"),
            ("quorate", "at least two agencies"),
            ("UKBA", "uk border agency", "border agency"),
        ]
    )

    def spelled(question: str) -> list[str | None]:
        return [e.spelled_out for e in glossary.expand(question)]

    # The long form is the first one written out in words: never another abbreviation ("s 47", "CPP").
    assert spelled("the s47 is finished") == ["section 47 enquiry"]
    assert spelled("writing the CP plan") == ["child protection plan"]  # "CP plan" holds an abbreviation
    assert spelled("is the CPP ready") == ["child protection plan"]
    assert spelled("a letter from the UK Border Agency") == ["border agency"]
    # Words that are not abbreviations are left as the question wrote them.
    assert spelled("the key worker is off sick") == [None]
    assert spelled("at least two agencies came") == [None]
    assert spelled("the section 47 enquiry") == [None]


def test_hyphens_apostrophes_and_case_do_not_matter() -> None:
    glossary = Glossary([("key worker", "lead social worker"), ("CSC", "children's social care")])
    assert normalise("Key-Worker’s") == "key workers"
    assert [e.others for e in glossary.expand("what does the KEY-WORKER do")] == [("lead social worker",)]
    assert [e.others for e in glossary.expand("ring childrens social care")] == [("CSC",)]


def test_document_terms_join_the_group_that_already_holds_one_of_them() -> None:
    glossary = Glossary([("LADO", "designated officer")]).with_terms(
        [("LADO", "Local Authority Designated Officer"), ("CDOP", "Child Death Overview Panel")]
    )
    assert glossary.groups == [
        ("LADO", "designated officer", "Local Authority Designated Officer"),
        ("CDOP", "Child Death Overview Panel"),
    ]


def test_the_corpus_glossary_loads_and_a_bad_one_is_refused(tmp_path: Path) -> None:
    glossary = Glossary.load(CORPUS / "glossary.toml")
    assert len(glossary.groups) > 40
    bad = tmp_path / "glossary.toml"
    for text in ('groups = [["only one"]]', "groups = 3", "groups = [[", 'groups = [["a", ""]]'):
        bad.write_text(text, encoding="utf-8")
        with pytest.raises(ValueError, match="glossary"):
            Glossary.load(bad)


@pytest.mark.slow
def test_an_acronym_finds_the_paragraph_that_spells_it_out(retriever) -> None:  # type: ignore[no-untyped-def]
    """The user's word is not the document's: "RCPC" against "review conferences". Checked against the
    same search without the glossary, so the test fails if the glossary stops being used. Both leave out
    the tuned reordering (which on its own lifts 8.10.1 to the top here): this is the glossary's test."""
    from safeguide.retrieval.hybrid import HybridRetriever

    question = "who chairs an RCPC?"
    location, embedder = retriever.location, retriever.embedder
    with_glossary = HybridRetriever(location, embedder, glossary=retriever.glossary, tuned_reorder=False)
    plain = HybridRetriever(location, embedder, tuned_reorder=False)
    assert "review conference" in {t for e in retriever.reader().glossary.expand(question) for t in e.others}

    def chairing(r: HybridRetriever) -> list[bool]:
        return [x.paragraph in ("8.10.1", "8.10.2") for x in r.search(question, k=3)]

    assert chairing(with_glossary)[:2] == [True, True]  # "8.10 Chairing of the conference"
    assert chairing(retriever)[:2] == [True, True]  # and so with the default search
    assert not any(chairing(plain))  # without it: the LSCB's chair, the Children's Trust's chair


@pytest.mark.slow
def test_the_index_carries_the_terms_its_documents_define(retriever) -> None:  # type: ignore[no-untyped-def]
    glossary = retriever.reader().glossary
    groups = [set(map(normalise, g)) for g in glossary.groups]
    assert any({"cdop", "child death overview panel"} <= g for g in groups)
    assert any({"ewo", "education welfare officer"} <= g for g in groups)  # defined by Hampshire only


def test_training_pairs_come_from_the_passages_themselves() -> None:
    texts = [
        "The chair must circulate the minutes within 10 working days of the conference. Parents get a copy.",
        "The core group should meet within 10 working days of the initial conference and then monthly.",
    ]
    metas = [
        {"doc_id": "d", "title": "T", "heading": "Minutes of the conference"},
        {"doc_id": "d", "title": "T", "heading": "Minutes of the conference"},
    ]
    pairs = make_pairs(texts, metas, seed=1)
    queries = {p.query for p in pairs}
    assert "when must the chair circulate the minutes?" in queries
    assert "when should the core group meet?" in queries
    for p in pairs:
        assert p.passage.startswith(texts[p.row])
        assert p.negative is not None and p.negative != p.passage  # the sibling paragraph
