"""Personal details found by their shape: NHS numbers (with a valid check digit), NI numbers, postcodes,
phone numbers, e-mail and street addresses, dates of birth, "Flat 3", and school and nursery names."""

from __future__ import annotations

import itertools
import re

from spacy.lang.en.stop_words import STOP_WORDS

from safeguide.safety.names import Lexicon
from safeguide.wordlists import words


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
