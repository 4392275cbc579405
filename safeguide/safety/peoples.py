"""Peoples, languages and faiths a message names, kept when a name check took them for a person.

"mum is Polish and needs an interpreter", "the family speak Urdu at home", "a Somali girl may be at risk
of FGM": who a family is and which language a meeting needs are part of the question. spaCy's small model,
the name cues and the name tagger read many of these capitalised words as a name ("mum is [name
removed]"). A person finding whose one word is a people, a language or a faith (`names.wordnet_peoples`:
WordNet's languages, its proper adjectives, its kinds of religious person and its ethnic groups, with the
few it lacks in `safety_data/peoples.txt`) is taken back, unless:

- the message names it as a person: after a title or a relation word ("Mr French", "my pupil Welsh"),
  with an age after it ("Norman, aged 8"), as part of a longer name ("Amelia Scott"), or with a
  possessive ("Christian's mum");
- it is also a given name ("Christian", "Karen", "Norman") and the sentence does not read it as a people,
  a language or a faith: before a word of language or origin ("Karen speakers", "Urdu-speaking", "Irish
  heritage"), after "a" or "an" and before a person noun ("a Christian family", "an Irish mum"), after
  a verb of speaking ("speaks Karen"), or after "is" or "are" said of a person or a language ("mum is
  Irish", "her first language is Tamil").

A word is only ever kept; nothing here removes one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from safeguide.safety.name_roles import RELATION_CUES
from safeguide.safety.names import Lexicon
from safeguide.safety.places import named_as_person
from safeguide.wordlists import words

_WORD = re.compile(r"[^\W\d_]+")
# After the word: language, origin and faith, whoever the word is said of ("Karen speakers").
_TONGUE = frozenset(
    words(
        "speaking speaker speakers speak speaks spoken interpreter interpreters translator translators "
        "translation language languages dialect community communities heritage background backgrounds origin "
        "origins descent culture cultural national nationals nationality faith church churches mosque temple "
        "gurdwara synagogue"
    )
)
# After "a" or "an" and the word: a person or a household ("a Christian family", "an Irish mum").
_HOUSEHOLD = frozenset(words("family families household parents couple"))
# Before the word: speaking it ("speaks Karen").
_SPEAKING = frozenset(
    words("speak speaks spoke speaking fluent translate translated translating interpret interpreting")
)
_COPULA = frozenset(words("is are was were"))
_OF_A_PERSON = frozenset(words("family parents they both"))


def _words(text: str) -> list[str]:
    return [m.group().lower() for m in _WORD.finditer(text)]


def peoples_kept(text: str, spans: Sequence[tuple[int, int]], lexicon: Lexicon) -> set[tuple[int, int]]:
    """Of the person findings `spans` in `text`, those whose one word is a people, a language or a faith
    that the message does not name as a person."""
    kept: set[tuple[int, int]] = set()
    for start, end in spans:
        word = text[start:end]
        if not word.isalpha() or word.lower() not in lexicon.peoples:
            continue
        if text[end : end + 2] in ("'s", "’s"):
            continue  # "Christian's mum"
        if named_as_person(text, start, end, spans, (start, end)):
            continue
        if lexicon.is_given(word.lower()) and not _reads_as_people(text, start, end, lexicon):
            continue
        kept.add((start, end))
    return kept


def _reads_as_people(text: str, start: int, end: int, lexicon: Lexicon) -> bool:
    """Whether the sentence reads a word that is also a given name as a people, a language or a faith."""
    after = _words(text[end:])[:1]
    before = _words(text[:start])[-2:]
    if after and after[0] in _TONGUE:
        return True  # "Karen speakers", "Urdu-speaking", "Irish heritage"
    if (
        after
        and before[-1:] in (["a"], ["an"])
        and (after[0] in _HOUSEHOLD or after[0] in lexicon.person_nouns)
    ):
        return True  # "a Christian family", "an Irish mum"
    if before and before[-1] in _SPEAKING:
        return True  # "speaks Karen"
    return (
        len(before) == 2
        and before[1] in _COPULA
        and (
            before[0] in RELATION_CUES
            or before[0] in lexicon.person_nouns
            or before[0] in _OF_A_PERSON
            or before[0] in _TONGUE
        )
    )  # "mum is Irish", "the family are Muslim", "her first language is Tamil"
