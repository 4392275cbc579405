"""The name tagger (safeguide/safety/name_tagger.py): names that are also words, judged by the sentence.

Every sentence here was written for these tests; none comes from the held-out sets in eval/golden/."""

from __future__ import annotations

import re

import pytest

from safeguide.safety import name_tagger
from safeguide.safety.names import lexicon


def test_weights_match_the_training_data() -> None:
    """Change name_contexts.txt or the safety training lines without `safeguide safety train`: this fails."""
    from safeguide.cli import dev_negatives

    assert name_tagger.stored_fingerprint() == name_tagger.data_fingerprint(dev_negatives())


def test_no_context_is_a_heldout_message() -> None:
    """A context with its slots filled by any words must not reproduce a held-out message."""
    from eval.safety_heldout import HELDOUT_SETS, load_heldout

    heldout = [r["message"].lower() for path in HELDOUT_SETS.values() for r in load_heldout(path)]
    for context in name_tagger.read_contexts():
        pattern = re.compile("^" + re.sub(r"\\\{[cas]\\\}", r"[\\w'-]+", re.escape(context.lower())) + "$")
        assert not [m for m in heldout if pattern.match(m)], context


def test_candidates_are_name_like_words_only() -> None:
    lex = lexicon()
    text = (
        "The strategy discussion, the referral and the ICPC: mum told the DSL on Monday that Sage is scared"
    )
    found = [c.lower for c in name_tagger.candidates(text, lex)]
    assert found == ["sage"]  # not "strategy", "mum" (a relation), "DSL" (an acronym), "Monday"


def test_public_figures_are_not_candidates() -> None:
    lex = lexicon()
    assert name_tagger.candidates("what did Eileen Munro say about the review", lex) == []


def test_the_contexts_file_is_checked() -> None:
    assert all(re.search(r"\{[cas]\}", c) for c in name_tagger.read_contexts())


@pytest.fixture(scope="module")
def tagger() -> name_tagger.Tagger:
    return name_tagger.Tagger()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("worried about sage, she has been coming to school hungry all week", "sage"),
        ("my foster son hunter ran off again last night", "hunter"),
        ("ocean said his stepdad locked him in the shed", "ocean"),
        ("rocky and his nan were at the house when police came", "rocky"),
    ],
)
def test_a_word_used_as_a_name_is_found(tagger: name_tagger.Tagger, text: str, name: str) -> None:
    assert [text[s:e] for s, e in tagger.spans(text)] == [name]


@pytest.mark.slow
@pytest.mark.parametrize(
    "text",
    [
        "sage advice from the designated safeguarding lead helped",
        "the ocean is a long way from the refuge",
        "a hunter was seen in the woods near the school",
        "grace periods do not apply to the written confirmation",
        "the core group should meet within ten working days of the conference",
    ],
)
def test_the_same_words_used_as_words_are_kept(tagger: name_tagger.Tagger, text: str) -> None:
    assert tagger.spans(text) == []


@pytest.mark.slow
def test_redaction_uses_the_tagger() -> None:
    from safeguide.safety.pii import redact

    text, findings = redact("ocean said his stepdad locked him in the shed")
    assert text == "[name removed] said his stepdad locked him in the shed"
    assert [f.kind for f in findings] == ["name"]
