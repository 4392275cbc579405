"""Place names a message uses, kept when a name check took them for a person.

A practitioner's area and the places a family moves between decide which procedure applies ("a child on a
Surrey plan has moved here", "does Hampshire set a different timescale?"), so removing them as names
loses the area and can give the wrong deadline. spaCy's small model, the name cues and the name tagger
all sometimes read a capitalised county as a person; this module takes such a finding back when the
words are a place:

- the places are the UK's councils, counties, cities and large towns (`safety_data/places.txt`), the
  words whose commonest WordNet sense is a place and that are not English words ("Romania", "Lagos"),
  and the areas of the user's own documents (their manifests' `authority`);
- a place that is also a given name ("Devon", "Chester", "Paris"; outside the UK, one given lately too:
  "Cairo"), one the name cues found by what the sentence says of a person, or one a person's pronoun
  follows ("Harlow, she ..."), is kept only where the sentence reads it
  as a place: after "in" or "across", after "from" or "to" with a move before it ("transferred in
  from Kent", "moving to Chester"), or before an authority's word ("Devon's safeguarding partnership",
  "Kent police", "Paris social services"); "Devon, aged 9" and "Devon's social worker" stay removed;
- no place is kept where the message names it as a person: after a title or a relation word ("Mr
  Bradford", "my pupil Kent"), with an age after it ("Paris (7)"), or as part of a longer name
  ("Florence Hull", "Chester Davies").

A place is only ever kept; nothing here removes a word.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from safeguide.safety.name_roles import NAMING
from safeguide.safety.names import Lexicon
from safeguide.wordlists import listed, words

# A word of a place name: letters only, so "Stoke-on-Trent" and "King's Lynn" match however typed.
_WORD = re.compile(r"[^\W\d_]+")
# Before a place: the prepositions that put a thing in it, and (for "from" and "to") the moves that
# carry a family there.
_INSIDE = frozenset({"in", "into", "across", "throughout", "within", "around", "near", "outside"})
_TOWARDS = frozenset({"from", "to"})
_MOVES = frozenset(
    words(
        "move moved moves moving relocate relocated relocating relocation transfer transferred transferring "
        "transfers came come comes coming arrive arrived arriving return returned returning went go goes "
        "going gone fled flee fleeing placed placement placements live lives lived living based back "
        "emigrated emigrate take takes took taken taking bring brings brought bringing"
    )
)
# After a place: the words of an authority or a service of an area. After its possessive only an
# authority's own words count, since a person has a worker, an appointment or a number too ("Devon's
# social worker", "Paris's NHS number").
_AUTHORITY_OWN = (
    "council councils county borough lscp lscb scp partnership partnerships procedures procedure guidance "
    "policy policies protocol protocols threshold thresholds mash authority"
)
_AUTHORITY = frozenset(words(_AUTHORITY_OWN))
_AREA = _AUTHORITY | frozenset(words("police constabulary city district region area la icb"))
_AUTHORITY_PHRASES = (
    ("social", "services"),
    ("social", "care"),
    ("children", "s", "services"),
    ("children", "s", "social", "care"),
    ("safeguarding", "partnership"),
    ("safeguarding", "children", "partnership"),
    ("safeguarding", "board"),
)
# An age after a word says it is a person: "Paris (7)", "Devon, aged 9", "brooklyn, 4,", "harlow, she's 4".
_AGE_AFTER = re.compile(
    r"^\s*(?:\(\s*(?:[^\W\d_]+,?\s*){0,2}\d{1,2}"  # "(7)", "(twins, 6)"
    r"|,?\s*aged?\s+\d"  # ", aged 9"
    r"|,\s*\d{1,2}\s*(?:,|\b(?:yo|y/o|years?|yrs?)\b)"  # ", 4," ", 9 years"
    r"|,?\s*(?:she|he|they|who)\s*(?:'s|’s|is|are)\s+(?:only\s+|just\s+)?\d{1,2}\b)"  # ", she's 4"
)
# A person's pronoun straight after a word puts it in doubt: "worried about Harlow, she keeps ...".
_SPOKEN_OF = re.compile(r"^\s*,?\s*(?:she|he|her|his|him)\b", re.IGNORECASE)


@dataclass(frozen=True)
class _Match:
    start: int  # character offsets of the place in the message
    end: int
    words: tuple[str, ...]
    area: bool  # a UK area or one of the documents' areas, not a place elsewhere


def _words(text: str) -> list[tuple[str, int, int]]:
    return [(m.group().lower(), m.start(), m.end()) for m in _WORD.finditer(text)]


def place_words(name: str) -> tuple[str, ...]:
    """A place's name as the lower-case words a message is matched by ("Stoke-on-Trent", "west-sussex")."""
    return tuple(w for w, _, _ in _words(name))


def load_places(lexicon: Lexicon, wordnet_locations: Iterable[str] = ()) -> Places:
    """The packaged UK places, and the WordNet places that are not English words."""
    areas = {place_words(line) for line in listed("places.txt")}
    elsewhere = {(w,) for w in wordnet_locations if w.isalpha() and not lexicon.is_word(w)} - areas
    return Places(lexicon, frozenset(p for p in areas if p), frozenset(elsewhere))


class Places:
    """Which person findings of a message are places (`kept`). `areas` are the UK's (the areas a
    practitioner works in and families move between), `elsewhere` the rest of the world's."""

    def __init__(
        self, lexicon: Lexicon, areas: frozenset[tuple[str, ...]], elsewhere: frozenset[tuple[str, ...]]
    ) -> None:
        self.lexicon = lexicon
        self.areas = areas
        self.elsewhere = elsewhere
        self.longest = max((len(p) for p in areas | elsewhere), default=1)

    def is_area(self, words: tuple[str, ...], extra: frozenset[tuple[str, ...]] = frozenset()) -> bool:
        """Whether `words` (lower case) name a UK area or one of the documents' areas (`extra`)."""
        return words in self.areas or words in extra

    def matches(self, text: str, extra: frozenset[tuple[str, ...]] = frozenset()) -> list[_Match]:
        """The places `text` names, longest first where they overlap, each once."""
        words = _words(text)
        out: list[_Match] = []
        i = 0
        longest = max(self.longest, max((len(p) for p in extra), default=1))
        while i < len(words):
            for n in range(min(longest, len(words) - i), 0, -1):
                key = tuple(w for w, _, _ in words[i : i + n])
                if self.is_area(key, extra) or key in self.elsewhere:
                    out.append(_Match(words[i][1], words[i + n - 1][2], key, self.is_area(key, extra)))
                    i += n
                    break
            else:
                i += 1
        return out

    def kept(
        self,
        text: str,
        spans: Sequence[tuple[int, int]],
        extra: frozenset[tuple[str, ...]] = frozenset(),
        cued: Iterable[tuple[int, int]] = (),
    ) -> set[tuple[int, int]]:
        """Of the person findings `spans` in `text`, those that are a place the message reads as a place.
        `extra` holds more places (the user's documents' areas). `cued` are the findings the name cues
        made from what the sentence says of a person, not from the look of the word alone: such a place,
        like one that is also a given name, is kept only where the sentence reads it as a place ("refer
        harlow, she's 4, ..." keeps its name)."""
        places = self.matches(text, extra)
        if not places:
            return set()
        by_cue = set(cued)
        kept: set[tuple[int, int]] = set()
        for start, end in spans:
            core_end = _without_possessive(text, start, end)
            place = next((p for p in places if p.start <= start and core_end <= p.end), None)
            if place is None or named_as_person(text, place.start, place.end, spans, (start, end)):
                continue
            if start > place.start or core_end < place.end:
                kept.add((start, end))  # a word of a longer place's name: "Trent" of "Stoke on Trent"
                continue
            doubt = self._ambiguous(place) or (start, end) in by_cue or _SPOKEN_OF.match(text[place.end :])
            if doubt and not _reads_as_place(text, place):
                continue
            kept.add((start, end))
        return kept

    def _ambiguous(self, place: _Match) -> bool:
        """A one-word place that is also a given name ("Devon", "Paris"); for a place outside the UK, one
        given lately too ("Cairo", "Dakota"), since a child so named is likelier in a message here than a
        mention of the place."""
        if len(place.words) != 1:
            return False
        word = place.words[0]
        return self.lexicon.is_given(word) or (not place.area and word in self.lexicon.first_wide)


def named_as_person(
    text: str, start: int, end: int, spans: Sequence[tuple[int, int]], this: tuple[int, int]
) -> bool:
    """Whether the message names the words at `start:end` as a person: after a title or a relation word
    ("Mr Bradford", "my pupil Kent"), with an age after them ("Paris (7)"), or as part of a longer name,
    another of the person findings `spans` right before or after them ("Florence Hull")."""
    before = _words(text[:start])
    if before and before[-1][0] in NAMING:
        return True
    if _AGE_AFTER.match(text[end:]):
        return True
    for s, e in spans:
        if (s, e) == this:
            continue
        if (e <= start and not text[e:start].strip()) or (s >= end and not text[end:s].strip()):
            return True
    return False


def _without_possessive(text: str, start: int, end: int) -> int:
    span = text[start:end]
    for suffix in ("'s", "’s", "'", "’"):
        if span.endswith(suffix):
            return end - len(suffix)
    return end


def _reads_as_place(text: str, place: _Match) -> bool:
    """Whether the sentence reads a place that is also a given name as a place."""
    after = [w for w, _, _ in _words(text[place.end :])][:5]
    owned = bool(after) and after[0] == "s" and text[place.end : place.end + 1] in "'’"
    if owned:
        after = after[1:]  # "Devon's safeguarding partnership"
    if after and after[0] in (_AUTHORITY if owned else _AREA):
        return True
    if any(tuple(after[: len(p)]) == p for p in _AUTHORITY_PHRASES):
        return True
    if owned:
        return False  # "in Devon's room": a person's room
    before = [w for w, _, _ in _words(text[: place.start])]
    if before and before[-1] in _INSIDE:
        return True  # "in Chester"
    # "transferred in from Kent", "moving back to Preston"
    return bool(before) and before[-1] in _TOWARDS and any(w in _MOVES for w in before[-5:-1])
