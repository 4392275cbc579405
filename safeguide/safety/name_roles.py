"""Names found by the words around them and the part the sentence gives them: after a relation or a
title ("his uncle tariq", "Mrs Hope"), before an age, and names that are also words ("summer told her
teacher") by their role in spaCy's parse, read twice when a lower-case name misleads the parser."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from typing import Any

from spacy.lang.en.stop_words import STOP_WORDS

from safeguide.safety.name_cues import (
    AGE_AFTER,
    DAYS,
    DOB_LABEL,
    MONTHS,
    RELATIVES,
    cue_named,
    starts_sentence,
)
from safeguide.safety.name_cues import DETERMINERS as _DETERMINERS
from safeguide.safety.name_cues import Word as _Word
from safeguide.safety.names import Lexicon
from safeguide.safety.shapes import _wordset

# ------------------------------------------------------------------------------------ names by context

# Words after which the next word, if it can be a name, is one: "his uncle tariq", "mum kelly".
RELATION_CUES = _wordset(
    "mum mam mom mummy mother dad daddy father stepdad stepmum stepfather stepmother step-dad "
    "step-mum brother sister bro sis sibling half-brother half-sister uncle aunt auntie aunty nan "
    "nana nanna nanny gran granny grandma grandmother grandad granddad grandpa grandfather cousin son "
    "daughter stepson stepdaughter nephew niece twin child kid boy girl baby toddler infant pupil "
    "student learner partner boyfriend girlfriend bf gf husband wife ex fiance fiancé fiancee carer "
    "neighbour neighbor friend lodger teacher tutor coach colleague headteacher worker midwife "
    "landlord manager called named call name"
)
# Titles: whatever capitalised word or surname follows is a name, even a word ("Mrs Hope", "Dr Green").
TITLES = _wordset("dr doctor mr mrs ms miss mx prof professor pc sgt dc ds di nurse sister cllr")
# A word after one of these is named by it ("Mr Staff", "his uncle Lead", "my pupil Kent"), whatever else
# it is.
NAMING = TITLES | RELATION_CUES
# Names of public figures and inquiries the guidance itself discusses: not anyone's personal details.
PUBLIC_NAMES = frozenset(
    {
        "munro",
        "eileen munro",
        "laming",
        "lord laming",
        "climbié",
        "climbie",
        "victoria climbié",
        "victoria climbie",
        "connelly",
        "peter connelly",
        "baby p",
        "gillick",
        "fraser",
        "caldicott",
        "alan wood",
    }
)
# (Days and months are names only where a cue leaves no doubt: "a girl called Sunday", "the boy, august,".)
_NOT_NAMES = (
    MONTHS
    | DAYS
    | _wordset(
        "christmas easter ramadan eid diwali god allah jesus english british england scotland wales ireland "
        "uk britain europe"
    )
    # Contractions typed without the apostrophe ("ive got a 6 yr old", "hes been"): words, never names.
    | _wordset(
        "ive im id youve weve theyve hes shes theyre youre dont cant wont didnt doesnt isnt wasnt werent "
        "havent hasnt hadnt couldnt wouldnt shouldnt arent aint"
    )
    # The short forms of an age or a school year ("14 yr old", "in yr 9", "a 6yo"): the words the age cues
    # are made of, never names.
    | _wordset("yr yrs yo")
)
_AFTER_NAME = re.compile(
    rf"^(?:{AGE_AFTER}"  # Ruby (9), Tyler, aged 6, hope age 6
    r"|\s*,\s*\d{1,2}\s*(?:,|\.|yo\b|y/o|yrs?\b|years?\b|$)"  # Tyler, 6,
    r"|\s*\d{1,2}\s*(?:yo|y/o|yrs?|years?\s+old)\b"  # tyler 6yo
    r"|\s*,?\s+(?:who\s+is|is|who's|whos)\s+(?:only\s+)?\d{1,2}\b"  # lily who is 7
    r"|\s*,?\s+(?:in|from)\s+(?:year|yr|y)\s*\d{1,2}\b"  # lily evans in year 4
    r"|\s*,\s+(?:she|he|they)\s*(?:is|'s|’s|are)\s+(?:only\s+)?\d{1,2}\b"  # grace, she is 7
    rf"|\s*\(?\s*(?:{DOB_LABEL}|born\b)"  # ruby dob ...
    rf"|['’]s\s+(?:{RELATIVES}|school|class|house|home|family)\b)",  # ruby's mum
    re.IGNORECASE,
)
_CLOSED_POS = _wordset("AUX VERB ADP DET PRON CCONJ SCONJ PART NUM PUNCT ADV")
_TOKEN = re.compile(r"[A-Za-z][A-Za-z'’]*(?:-[A-Za-z][A-Za-z'’]*)*")


def _head_token(doc: Any, start: int, end: int) -> Any:
    """spaCy's token that heads the word at [start, end): for "ruby-leigh", split by spaCy into three
    tokens, the one the rest hang from."""
    span = doc.char_span(start, end, alignment_mode="expand")
    return span.root if span is not None and len(span) else None


def _words(text: str, doc: Any) -> list[_Word]:
    """Word spans by our own rule (hyphenated and O'-names whole), with spaCy's tag for each."""
    out: list[_Word] = []
    for m in _TOKEN.finditer(text):
        end = m.end() - 2 if re.search(r"['’]s$", m.group()) else m.end()  # "rocky's nan": keep the 's
        tok = _head_token(doc, m.start(), end)
        out.append(
            _Word(
                m.group(),
                m.start(),
                end,
                m.group().lower().replace("’", "'").removesuffix("'s"),
                tok.pos_ if tok is not None else "",
                tok.lemma_ if tok is not None else m.group(),
                tok.ent_type_ if tok is not None else "",
                starts_sentence(text, m.start()),
                tok,
            )
        )
    return out


def _capitalised(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """`text` with each span's words capitalised ("ruby-leigh" -> "Ruby-Leigh"); lengths unchanged."""
    chars = list(text)
    for start, end in spans:
        for k in range(start, end):
            if k == start or chars[k - 1] == "-":
                chars[k] = chars[k].upper()
    return "".join(chars)


def name_spans(
    text: str,
    doc: Any,
    lex: Lexicon,
    protected: frozenset[str] = frozenset(),
    reparse: Callable[[str], Any] | None = None,
) -> list[tuple[int, int]]:
    """Names found from the names lists, the words around them and spaCy's tags. With `reparse` (the
    spaCy pipeline), given names written in lower case are also read a second time capitalised: the
    small model often misparses a lower-case name ("the twins, sunny and rose" reads "rose" as a verb),
    and the roles below are then judged on whichever reading gives the word a person's role."""
    words = _words(text, doc)
    # Words of a public figure's full name ("Eileen Munro", "Lord Laming") are that figure, not a person
    # the user is writing about.
    public = {
        k
        for i in range(len(words) - 1)
        if f"{words[i].lower} {words[i + 1].lower}" in PUBLIC_NAMES
        for k in (i, i + 1)
    }
    public_starts = {words[k].start for k in public}
    accepted: set[int] = set()

    def can_be_name(w: _Word) -> bool:
        return (lex.is_given(w.lower) or w.lower in lex.last) and w.lower not in STOP_WORDS

    def excluded(w: _Word) -> bool:
        return (
            w.start in public_starts
            or w.lower in _NOT_NAMES
            or w.lower in protected
            or w.lower in PUBLIC_NAMES
            or w.lower in RELATION_CUES
            or w.lower in TITLES
            or (w.text.isupper() and len(w.text) <= 4)  # DSL, LADO, MASH, NHS
            or len(w.lower) < 2
        )

    def wordy(w: _Word) -> bool:
        return lex.is_word(w.lower, w.lemma)

    def capitalised(w: _Word) -> bool:
        return w.text[0].isupper()

    for i, w in enumerate(words):
        if excluded(w):
            continue
        prev = words[i - 1] if i > 0 else None
        # "mum, kelly" / "his uncle tariq": the cue may be one comma away.
        gap = text[prev.end : w.start] if prev else ""
        after_title = prev is not None and prev.lower.rstrip(".") in TITLES and gap.strip() in ("", ".")
        # ("the baby's face": a possessive relation word says whose, not who.)
        after_cue = (
            prev is not None
            and prev.lower in RELATION_CUES
            and not re.search(r"['’]s$", prev.text)
            and gap.strip() in ("", ",", ":", "-")
        )
        before_cue = bool(_AFTER_NAME.match(text[w.end :]))
        if w.ent in ("GPE", "LOC", "NORP", "DATE", "TIME", "FAC") and not (
            after_cue or after_title or before_cue
        ):
            # spaCy's small model calls some first names places ("Tyler"); a place follows "in", "at"...
            after_place_word = prev is not None and prev.lower in ("in", "at", "from", "to", "near", "of")
            if after_place_word or not lex.is_given(w.lower, common=True) or wordy(w):
                continue
        if after_title and (capitalised(w) or can_be_name(w)) and w.lower not in STOP_WORDS:
            accepted.add(i)
        elif not can_be_name(w):
            continue
        elif after_cue or before_cue:
            # After "mum" or before "aged 6": a name if it is no English word ("tariq"), or if it is one
            # ("grace") but written or read as a name, not as the word ("a child safe", "the lad in year 11").
            if not wordy(w) or capitalised(w) or w.pos == "PROPN":
                accepted.add(i)
            elif before_cue and lex.is_given(w.lower, common=True) and w.pos in ("NOUN", "ADJ", "X"):
                accepted.add(i)  # "grace, she is 7": an age right after a common given name
        elif not wordy(w):
            # A given name that is no English word: a name when capitalised, or in lower case when common.
            # (A surname alone, "Hampshire", is not enough: it needs a title or a given name before it.)
            if lex.is_given(w.lower) and (capitalised(w) or lex.is_given(w.lower, common=True)):
                accepted.add(i)
        elif (
            capitalised(w)
            and not w.sentence_start
            and w.pos == "PROPN"
            and lex.is_given(w.lower, common=True)
            and not (prev is not None and capitalised(prev))
            and not (i + 1 < len(words) and capitalised(words[i + 1]) and not can_be_name(words[i + 1]))
        ):
            accepted.add(i)  # "concerns about Hope and her brother"; not "Hope" opening a sentence, nor
            # a word in a title-case phrase ("the Children's Trust")

    # Names no list holds, where the cue leaves no doubt ("a boy called rebel", "legend's dad").
    # ("called", "named" and "her name is" are among them: name_cues.py.)
    never = TITLES | PUBLIC_NAMES | protected | (_NOT_NAMES - MONTHS)
    cued = cue_named(text, words, lex, RELATION_CUES, never)
    accepted |= {i for i in cued if words[i].start not in public_starts}

    # Names that are also words, by the role the sentence gives them; run twice so that a name found
    # makes its neighbours in a list names too ("violet and jasmine are twins").
    # (A word straight after a determiner is the word, whichever reading: "what age", "the rose".)
    candidates = [
        i
        for i, w in enumerate(words)
        if i not in accepted
        and can_be_name(w)
        and lex.is_given(w.lower)
        and not excluded(w)
        and not (
            i > 0 and words[i - 1].lower in _DETERMINERS and not text[words[i - 1].end : w.start].strip()
        )
    ]
    guessed = frozenset(words[i].start for i in candidates if words[i].text.islower())
    second: dict[int, Any] = {}
    if reparse is not None and guessed:
        lower_names = [(words[i].start, words[i].end) for i in candidates if words[i].start in guessed]
        again = reparse(_capitalised(text, lower_names))
        second = {s: _head_token(again, s, e) for s, e in lower_names}
    for _ in range(2):
        named = {k for i in accepted for k in range(words[i].start, words[i].end)}
        for i in candidates:
            w = words[i]
            if i not in accepted and (
                person_by_role(w.tok, lex, named)
                or person_by_role(second.get(w.start), lex, named, guessed, reread=True)
            ):
                accepted.add(i)

    # A given name followed by a surname ("hope williams", "Kelly-Ann O'Brien"), and a surname after a
    # name already found, join it; a following capitalised word that can be a name joins too.
    for i in range(len(words) - 1):
        w, nxt = words[i], words[i + 1]
        if text[w.end : nxt.start].strip() or excluded(nxt) or excluded(w):
            continue
        if nxt.ent in ("GPE", "LOC", "DATE", "TIME"):
            continue
        surname = nxt.lower in lex.last and (not wordy(nxt) or capitalised(nxt))
        if i in accepted and (surname or (capitalised(nxt) and capitalised(w) and can_be_name(nxt))):
            accepted.add(i + 1)
        elif (
            can_be_name(w)
            and lex.is_given(w.lower)
            and w.pos not in _CLOSED_POS
            and nxt.lower in lex.last
            and not wordy(nxt)
        ):
            accepted.update((i, i + 1))

    spans: list[tuple[int, int]] = []
    for i in sorted(accepted):
        w = words[i]
        if spans and not text[spans[-1][1] : w.start].strip():
            spans[-1] = (spans[-1][0], w.end)
        else:
            spans.append((w.start, w.end))
    return [(s, e) for s, e in spans if text[s:e].lower() not in PUBLIC_NAMES]


# Roles in the parse that a person's name can fill, and the parts of speech it cannot be.
_SUBJECT = frozenset({"nsubj", "nsubjpass"})
_OBJECT = frozenset({"dobj", "dative"})
_NOT_A_NAME_TAG = frozenset({"MD", "NNS", "NNPS", "DT", "IN", "CC", "PRP", "PRP$", "CD", "TO", "RB", "WDT"})
_PERSON_PREPOSITIONS = frozenset({"with", "to", "about"})
_BARE_ROLES = frozenset({"nsubj", "nsubjpass", "dobj", "dative", "pobj", "conj", "appos"})


def _verb_forms(tok: Any) -> tuple[str, ...]:
    """The lemma and a plain verb stem of a word used as a verb or participle ("worried" -> "worry")."""
    lower = tok.lower_
    stems = [tok.lemma_.lower(), lower]
    if lower.endswith("ied"):
        stems.append(lower[:-3] + "y")
    elif lower.endswith("ed"):
        stems += [lower[:-2], lower[:-1]]
    return tuple(stems)


def _is_person(tok: Any, lex: Lexicon, named: set[int], guessed: frozenset[int] = frozenset()) -> bool:
    """A token that stands for a person: a name already found, a PERSON entity (not one we capitalised
    ourselves to re-read the sentence), or a person noun."""
    return (
        tok.idx in named
        or (tok.ent_type_ == "PERSON" and tok.idx not in guessed)
        or tok.lemma_.lower() in lex.person_nouns
        or tok.lower_ in lex.person_nouns
        or tok.lower_ in RELATION_CUES
    )


def person_by_role(
    tok: Any, lex: Lexicon, named: set[int], guessed: frozenset[int] = frozenset(), reread: bool = False
) -> bool:
    """Whether the sentence treats this word as a person: the subject of a person verb ("summer told her
    teacher"), a person's age or kind ("storm is 7", "they are twins"), asked or spoken with ("i asked
    sunny", "we met with ray"), coordinated with a person ("angel and her brother"), set beside one ("the
    toddler, sandy"), a person's relation ("rocky's nan") or named after one ("stepdad grant"); or a
    countable noun standing alone where a noun phrase goes ("robin" with no "a" or "the"); the one
    "who" speaks of ("dusty who is often hungry"); or whose body is spoken of ("ivy's arms"). Read from
    spaCy's parse; which verbs and nouns concern people or bodies comes from WordNet, not lists of ours.

    `reread` marks a sentence we capitalised ourselves: a capital makes the parser read the word as a
    noun wherever a noun can go, so the weakest evidence (the object of a verb: "left Home alone", a bare
    noun) is not taken from that reading."""
    if tok is None or tok.tag_ in _NOT_A_NAME_TAG or tok.pos_ in ("AUX", "ADP", "DET", "PRON", "NUM"):
        return False
    children = list(tok.children)
    if tok.dep_ == "compound":
        return False  # "summer holidays", "the rose garden": the word, not a name
    is_person = functools.partial(_is_person, lex=lex, named=named, guessed=guessed)
    if any(c.dep_ == "compound" and is_person(c) for c in children):
        return True  # "my pupil angel", "mum's new partner lance": the "my" belongs to "pupil"
    if any(c.dep_ in ("det", "poss", "nummod", "amod") for c in children):
        return False  # "the rose", "my hope": the word, not a name
    following = [t for t in tok.doc[tok.i + 1 : tok.i + 3] if not t.is_punct][:1]
    if following and following[0].lower_ in ("who", "whom", "whose"):
        return True
    if (
        not reread
        and tok.lower_ in lex.countable_names
        and tok.tag_ in ("NN", "NNP")
        and tok.dep_ in _BARE_ROLES
    ):
        return True  # "robin said", "with jack": a countable noun alone is a name
    head = tok.head
    person_verb = any(f in lex.person_verbs for f in _verb_forms(head))
    if head.tag_ == "VBG" and not any(c.dep_ in ("aux", "auxpass") for c in head.children):
        person_verb = False  # "penny pinching": a gerund with no "is"/"was" has no person doing it
    if tok.dep_ in _SUBJECT:
        if person_verb and head.lemma_ != "be":
            return True
        if head.lemma_ == "be" and any(
            c.dep_ in ("attr", "acomp") and (c.like_num or is_person(c)) for c in head.children
        ):
            return True
    if tok.dep_ in _OBJECT and person_verb and not reread:
        return True
    if (
        tok.dep_ == "pobj"
        and head.lower_ in _PERSON_PREPOSITIONS
        and any(f in lex.person_verbs for f in _verb_forms(head.head))
    ):
        return True
    if tok.dep_ == "conj" and is_person(head):
        return True
    if any(c.dep_ == "conj" and is_person(c) for c in children):
        return True
    if tok.dep_ == "appos" and is_person(head):
        return True
    if any(c.dep_ == "appos" and is_person(c) for c in children):
        return True
    return tok.dep_ == "poss" and (is_person(head) or head.lemma_.lower() in lex.body_nouns)
