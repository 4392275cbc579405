"""Names no list holds ("legend", "journey", "reign"), from cues that make whatever word fills them a name.

The names lists cannot keep up with the names children are given lately, and the tagger's bar for a word
it has not seen as a name is high. Some sentences leave no doubt whichever word it is:

- an introducer: "her name is Nevaeh", "mum is called dawn", "known as TJ"; after a bare "called", a
  given name, or after a person a word some names list holds, no English word or a capitalised word
  ("a boy called rebel", "a pupil called Temperance"),
  since "a neighbour called police" is a phone call;
- a pupil's school year after it: "lyric in year 8", "ace in yr 2" (not a person noun: "pupils in year 6");
- a person's relation or room after it: "legend's dad", "journey's bedroom" (not "the baby's mum": a
  word after a determiner or a possessive is a noun, not a name);
- set beside one person between commas, a noun or a listed name, with the sentence going on with what
  the person did or is: "the boy, august, told the dinner lady", "the older sibling, journey, is 16"
  (not "the parent, school, police and GP", a list, nor "the mum, upset, said", a word); or a list
  beside several people in which some word is a known given name: "two kids, heaven and justice";
- a relation before it and an age after it: "her brother will (11)", the one cue that takes a stop word,
  and then only one that is a common given name;
- a remark that it is a name, or a child described right after it: "little blue (yes that's his name)",
  "TJ, a boy of 13" (a two- or three-letter capital word counts here: initials are names too);
- what a child is, said with a noun and nothing before it: "the baby is reign", "her son is sky" (not
  "the baby is home", an adverb, "a girl", after a determiner, or "fine", an adjective), where the
  word is a listed name or no English word;
- a double-barrelled word made of given names, one of them a name and no English word or all of them
  names: "nova-leigh", "rose-may" (not "well-being", "long-term", "may-day");
- set between commas beside "the eldest", "the youngest" (a superlative standing for a person), as
  beside a person: "the eldest, crimson, has been going missing".

Whatever the cue, the word must be an open-class word: not a stop word, pronoun, number, title, relation,
place or date, nor an adverb or participle ("the boy, aged 6"). These cues add names; they
never remove one found otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from spacy.lang.en.stop_words import STOP_WORDS

from safeguide.safety.names import Lexicon
from safeguide.safety.shapes import _wordset

_INTRODUCER = re.compile(
    r"\b(?:named|nicknamed|known\s+as|(?:first\s+)?name\s+is|name['’]s|names\s+are|goes\s+by)\s+$", re.I
)
_CALLED = re.compile(r"\bcalled\s+$", re.I)
# The word before "called" that makes it a name ("a boy called", "is called"), not a phone call.
_CALLED_AFTER = frozenset({"is", "was", "are", "were", "'s", "’s", "old", "olds", "one", "been", "be"})
# The people whose "'s" after a word makes the word a name ("ruby's mum", "legend's dad"); name_roles.py
# adds a name's places (school, home), this module a child's room and body ("journey's bedroom").
RELATIVES = (
    r"(?:mum|mam|mom|mummy|mother|dad|daddy|father|step-?dad|step-?mum|stepfather|stepmother|brother|sister|"
    r"nan|nana|nanna|gran|granny|grandma|grandad|granddad|grandpa|uncle|aunt|auntie|aunty|carer|foster\s+carer|"
    r"parents?|siblings?|teacher|social\s+worker|key\s+worker)"
)
# An age right after a name: "Ruby (9)", "Tyler, aged 6", "hope age 6".
AGE_AFTER = (
    r"\s*\(\s*(?:aged?\s*)?\d{1,2}\s*(?:yrs?|years?|y/?o)?\s*\)|\s*,?\s*(?:aged?|age)\s*:?\s*\d{1,2}\b"
)
_RELATION_AFTER = re.compile(
    rf"^['’]s\s+(?:{RELATIVES}|bedroom|room|cot|bed|arms?|legs?|face|back|body)\b", re.I
)
_AGE_AFTER = re.compile(rf"^(?:{AGE_AFTER})", re.I)
# After a word set beside one person: the sentence goes on with what that person is or did ("the boy,
# august, told..."); a list of agencies goes on with another noun ("the parent, school, police and GP").
_APPOSITION_END = re.compile(r"^\s*(?:\)|$|[.!?]|who\b|is\b|was\b|has\b|had\b|says\b|said\b|told\b)", re.I)
MONTHS = _wordset("january february march april may june july august september october november december")
DAYS = _wordset("monday tuesday wednesday thursday friday saturday sunday")
# A date-of-birth label right after a name ("Koa Fenwick-Hart dob 03/05/2019", "Ezra (DOB ...").
DOB_LABEL = r"d\.?o\.?b\b\.?|date\s+of\s+birth\b"
_DOB_AFTER = re.compile(rf"^\s*[,(]?\s*(?:{DOB_LABEL})", re.I)
# An age said of a child just before a word set between commas: "a 6 yr old, ocean, whose ...".
_AGE_BEFORE = re.compile(r"\b\d{1,2}\s*[- ]?\s*(?:yrs?|years?|y)\s*[- ]?\s*$", re.I)
# Said of the word just before: "little blue (yes that's his name)".
_NAME_REMARK = re.compile(
    r"^\s*[(,–-]\s*(?:yes,?\s+|and\s+)?(?:that['’]?s|that\s+is|it['’]?s)\s+(?:his|her|their)\s+(?:real\s+)?name\b",
    re.I,
)
# A pupil's school year right after the word: "lyric in year 8", "ace in yr 2", "zion in reception".
_SCHOOL_YEAR_AFTER = re.compile(r"^\s+in\s+(?:(?:year|yr|y)\s*\d{1,2}\b|reception\b)", re.I)
# A child described right after the word: "TJ, a boy of 13", "kacper, a 9 year old".
_CHILD_AFTER = re.compile(
    r"^\s*,\s*an?\s+(?:\d{1,2}[\s-]*(?:yr|year)s?[\s-]*old\b|(?:\w+\s+)?(?:boy|girl|child|lad|lass|teenager|"
    r"toddler|baby|pupil|student|young\s+person)\s+(?:of|aged?)\s+\d{1,2}\b)",
    re.I,
)
# What a child is: "the baby is ", "her son was " just before the word; the clause ends after it.
_CHILD_IS = re.compile(
    r"\b(?:the|her|his|their|my|our|your)\s+(?:baby|child|boy|girl|son|daughter|toddler|kid|infant|eldest|"
    r"youngest|oldest|twin|brother|sister|step-?son|step-?daughter|grandson|granddaughter|nephew|niece|"
    r"teenager|pupil)\s+(?:is|was)\s+$",
    re.I,
)
_CLAUSE_END = re.compile(r"^\s*(?:$|[.,;:!?()]|and\b|but\b|who\b|aged?\b|\d)", re.I)
# A superlative standing for a person before a word set between commas: "the eldest, crimson, ...".
_PERSON_SUPERLATIVES = frozenset({"eldest", "youngest", "oldest"})
_NOT_NAME_ENTITIES = frozenset({"GPE", "LOC", "DATE", "TIME", "CARDINAL", "ORDINAL", "QUANTITY", "MONEY"})
_OPEN_POS = frozenset({"NOUN", "PROPN", "ADJ", "VERB", "X", "INTJ"})
DETERMINERS = _wordset(
    "the a an this that these those what which whose my your his her its our their some any no every each "
    "another either neither such"
)
_DETERMINER_TAGS = frozenset({"DT", "PRP$", "POS", "WP$", "CD"})


def starts_sentence(text: str, start: int) -> bool:
    """Whether the word at `start` begins a sentence (or the message): its capital says nothing."""
    before = text[:start].rstrip()
    return not before or before[-1] in '.!?:;"“('


@dataclass
class Word:
    """A word of the message by our own rule (hyphenated and O'-names whole), with spaCy's tags."""

    text: str
    start: int
    end: int
    lower: str
    pos: str
    lemma: str
    ent: str
    sentence_start: bool
    tok: Any = None  # spaCy's token starting here, with its place in the parse


def _person_noun(w: Word, lex: Lexicon, relations: frozenset[str]) -> bool:
    return w.lower in lex.person_nouns or w.lemma.lower() in lex.person_nouns or w.lower in relations


def _plural(w: Word) -> bool:
    tag = getattr(w.tok, "tag_", "")
    return tag in ("NNS", "NNPS") or (w.lemma.lower() != w.lower and w.lower.endswith("s"))


def _capitalised(w: Word) -> bool:
    """Written with a capital and not in capitals: after "a pupil called", a name ("Temperance")."""
    return w.text[:1].isupper() and not w.text.isupper()


def cue_named(
    text: str,
    words: Sequence[Word],
    lex: Lexicon,
    relations: frozenset[str],
    never: frozenset[str],
) -> set[int]:
    """Indexes into `words` that a strong cue makes names, whatever the names lists say. `relations` are
    the relation words ("mum", "brother"); `never` the words that are never names (titles, days, public
    figures, the caller's protected words)."""

    def open_word(w: Word, stop_ok: bool = False, person_ok: bool = True, day_ok: bool = False) -> bool:
        lower = w.lower
        if day_ok and lower in DAYS:
            return True  # "a girl called Sunday": the cue says it is a name
        if lower in never or lower in relations or len(lower) < 2:
            return False
        if lower in STOP_WORDS and not (stop_ok and lex.is_given(lower, common=True)):
            return False
        # (A month alone may be named by the cue: "the boy, august, told".)
        if w.ent in _NOT_NAME_ENTITIES and not (w.ent == "DATE" and lower in MONTHS):
            return False
        if w.pos and w.pos not in _OPEN_POS and not (stop_ok and w.pos == "AUX"):
            return False
        if len(lower) > 4 and lower.endswith(("ly", "ed", "ing")):
            return False
        if w.text.isupper() and len(w.text) > 3 and not lex.is_given(lower):
            return False  # LADO, MASH: acronyms of the guidance (TJ, two letters, stays a candidate)
        # Person nouns are names too once a cue says so ("a boy called rebel", "angel"), except before a
        # possessive, where "victim's mum" is the victim's.
        return person_ok or not _person_noun(w, lex, relations)

    def listed(w: Word) -> bool:
        lower = w.lower
        return (
            lex.is_given(lower)
            or lower in lex.first_wide
            or lower in lex.last
            or not lex.is_word(lower, w.lemma)
        )

    def after_determiner(i: int) -> bool:
        if i == 0 or text[words[i - 1].end : words[i].start].strip():
            return False
        prev = words[i - 1]
        return prev.lower in DETERMINERS or getattr(prev.tok, "tag_", "") in _DETERMINER_TAGS

    def before_birth_date(w: Word) -> bool:
        """A word of the name a date-of-birth label follows: written as a name (a capital, or no English
        word), and not a person noun ("Child dob ...", "baby dob ...")."""
        return (
            open_word(w)
            and (w.text[0].isupper() or not lex.is_word(w.lower, w.lemma))
            and w.lower not in lex.person_nouns
        )

    def given_compound(w: Word) -> bool:
        parts = w.lower.split("-")
        if len(parts) < 2 or not all(p.isalpha() for p in parts) or lex.is_word(w.lower):
            return False
        if not all(p in lex.first or p in lex.first_wide for p in parts):
            return False
        # Every part a name, or one part that can only be a name ("jaxon" in "jaxon-lee": no English word).
        return all(p in lex.first for p in parts) or any(not lex.is_word(p) for p in parts)

    def beside_person(prev: Word, i: int) -> bool:
        if _person_noun(prev, lex, relations) and prev.pos in ("NOUN", "PROPN"):
            return True  # "to be married, flight is at 6am": not a person
        if prev.lower == "old" and _AGE_BEFORE.search(text[: prev.start]):
            return True  # "a 6 yr old, ocean, whose parents"
        before = words[i - 2] if i >= 2 else None
        return prev.lower in _PERSON_SUPERLATIVES and before is not None and before.lower in DETERMINERS

    named: set[int] = set()
    for i, w in enumerate(words):
        before = text[max(0, w.start - 24) : w.start]
        prev = words[i - 1] if i > 0 else None
        gap = text[prev.end : w.start] if prev is not None else ""
        after = text[w.end :]
        if _INTRODUCER.search(before) and open_word(w, day_ok=True):
            named.add(i)
        elif given_compound(w) and open_word(w):
            named.add(i)  # "nova-leigh has missed her appointments"
        elif (
            _CHILD_IS.search(text[max(0, w.start - 40) : w.start])
            and _CLAUSE_END.match(after)
            and w.pos in ("NOUN", "PROPN", "X")
            and w.lower not in lex.describing
            and open_word(w)
            and listed(w)
        ):
            named.add(i)  # "the baby is reign"
        elif _CALLED.search(before) and open_word(w, day_ok=True):
            # "she is called sky", "a 15 yr old called destiny", a given name ("mum called grace"); after
            # a person, a word some names list holds or no English word: "a boy called rebel", but not
            # "a neighbour called police"; a day only after a person ("a girl called Sunday", not "she
            # was called Monday")
            ahead = words[i - 2] if i >= 2 else None
            if w.lower in DAYS:
                if ahead is not None and _person_noun(ahead, lex, relations) and w.text[0].isupper():
                    named.add(i)
            elif lex.is_given(w.lower) or (
                ahead is not None
                and (
                    ahead.lower in _CALLED_AFTER
                    or (_person_noun(ahead, lex, relations) and (listed(w) or _capitalised(w)))
                )
            ):
                named.add(i)
        elif (
            _SCHOOL_YEAR_AFTER.match(after)
            and not after_determiner(i)
            and open_word(w, person_ok=False)
            and listed(w)
        ):
            named.add(i)  # "a concern about lyric in year 8" (not "children in year 6")
        elif _RELATION_AFTER.match(after) and not after_determiner(i) and open_word(w, person_ok=False):
            named.add(i)  # "legend's dad"
        elif _DOB_AFTER.match(after) and before_birth_date(w):
            named.add(i)  # "Koa Fenwick-Hart dob ...": and the name's other words before it
            k = i - 1
            while k >= 0 and i - k <= 2 and not text[words[k].end : words[k + 1].start].strip():
                if not before_birth_date(words[k]):
                    break
                named.add(k)
                k -= 1
        elif (
            (_NAME_REMARK.match(after) or _CHILD_AFTER.match(after))
            and not after_determiner(i)
            and open_word(w)
        ):
            named.add(i)  # "little blue (yes that's his name)", "TJ, a boy of 13"
        elif (
            prev is not None
            and prev.lower in relations
            and gap.strip() in ("", ",")
            and _AGE_AFTER.match(after)
            and open_word(w, stop_ok=True)
        ):
            named.add(i)  # "her brother will (11)"
        elif (
            prev is not None
            and gap.strip() == ","
            and beside_person(prev, i)
            and open_word(w)
            and (w.pos in ("NOUN", "PROPN", "X") or listed(w))  # "the mum, upset, said": a word
        ):
            if not _plural(prev):
                nxt = words[i + 1] if i + 1 < len(words) else None
                goes_on = (
                    nxt is not None
                    and text[w.end : nxt.start].strip() == ","
                    and (nxt.pos in ("VERB", "AUX") or nxt.lower in ("who", "whose"))
                )
                if goes_on or _APPOSITION_END.match(after):
                    named.add(i)  # "the boy, august, told", "the older sibling, journey, is 16"
            else:
                members = _list_after(text, words, i)
                known = any(lex.is_given(words[k].lower) for k in members)
                if known and all(open_word(words[k]) for k in members):
                    named.update(members)  # "two kids, heaven and justice"
    return named


def _list_after(text: str, words: Sequence[Word], i: int) -> list[int]:
    """The words of a short list starting at words[i]: "heaven and justice", "amber, jade and ruby"."""
    out = [i]
    k = i
    while k + 2 < len(words) and len(out) < 4:
        sep = text[words[k].end : words[k + 1].start].strip().lower()
        if sep == ",":
            out.append(k + 1)
            k += 1
        elif (
            sep == ""
            and words[k + 1].lower == "and"
            and not text[words[k + 1].end : words[k + 2].start].strip()
        ):
            out.append(k + 2)
            break
        elif sep == "&":
            out.append(k + 1)
            break
        else:
            break
    return out if len(out) > 1 else []
