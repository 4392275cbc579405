"""Input checks that run before anything else: pure functions, no I/O.

- hidden Unicode (tag characters, zero-width and bidirectional controls) is removed;
- personal details a practitioner might paste are found and replaced before the text is logged,
  stored or sent to any model: NHS numbers (with a valid check digit), National Insurance numbers,
  postcodes, phone numbers, e-mail addresses, street addresses, and names next to a date of birth;
- a child in immediate danger is recognised, so the fixed 999 notice (EMERGENCY_NOTICE, written here,
  never by a model) is shown; it errs on the side of showing it;
- attempts to override the assistant's instructions are recognised, so they can be refused.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from safeguide.errors import InvalidQuery

EMERGENCY_NOTICE = (
    "If a child is in immediate danger, call 999 now. Then tell children's social care (out of hours: "
    "the emergency duty team) and follow your organisation's safeguarding procedure. safeguide cannot "
    "contact anyone for you."
)
PERSONAL_DATA_NOTICE = (
    "Personal details were removed from your question before it was used or stored "
    "({kinds}). Please do not type a child's or family's identifying details here."
)

_HIDDEN = re.compile(
    "[\U000e0000-\U000e007f\u200b-\u200f\u2060-\u2064\ufeff\u202a-\u202e\u2066-\u2069\u00ad\u180e]"
)


def strip_hidden(text: str) -> tuple[str, int]:
    """NFKC-normalise and remove invisible characters; returns the text and how many were removed."""
    normalised = unicodedata.normalize("NFKC", text)
    cleaned, removed = _HIDDEN.subn("", normalised)
    return cleaned, removed


# ---------------------------------------------------------------------------------------- personal data

_MONTHS = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|"
    r"Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_DATE = (
    r"(?:\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTHS}\s+\d{{4}}"
    r"|\d{4}-\d{2}-\d{2})"
)
_NAME = r"[A-Z][a-z'’-]+(?:\s+[A-Z][a-z'’-]+){0,2}"
_DOB_CUE = r"(?:d\.?\s?o\.?\s?b\.?|date\s+of\s+birth|born(?:\s+on)?)"

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("email address", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")),
    # A name directly before a date of birth: "Jane Smith (DOB 03/03/2015)", "Tom Jones, born 3 March 2015".
    (
        "name and date of birth",
        re.compile(rf"\b{_NAME}\s*[,(]?\s*{_DOB_CUE}\s*:?\s*{_DATE}\)?", re.IGNORECASE),
    ),
    ("date of birth", re.compile(rf"\b{_DOB_CUE}\s*:?\s*{_DATE}", re.IGNORECASE)),
    (
        "NI number",
        re.compile(
            # Any two letters: HMRC's prefix rules would let a mistyped or example number through.
            r"\b[A-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D]\b",
            re.IGNORECASE,
        ),
    ),
    ("phone number", re.compile(r"(?<![\d.])(?:\+44\s?\(?0?\)?\s?|0044\s?|0)\d(?:[\s-]?\d){8,9}(?![\d.])")),
    (
        "postcode",
        re.compile(
            r"\b(?:GIR\s?0AA|[A-PR-UWYZ][A-HK-Y]?\d[\dA-HJKPSTUW]?\s?\d[ABD-HJLNP-UW-Z]{2})\b", re.IGNORECASE
        ),
    ),
    (
        "address",
        re.compile(
            r"\b\d{1,4}[A-Za-z]?,?\s+(?:[A-Z][a-z]+\s+){1,3}(?:Road|Rd|Street|St|Avenue|Ave|Lane|Close|Drive|Way|"
            r"Crescent|Court|Place|Gardens|Grove|Terrace|Hill|Park|Row|Square|Walk|Mews|View|Rise)\b"
        ),
    ),
    ("name", re.compile(rf"\b(?:called|named|name\s+is)\s+({_NAME})")),
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


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int
    end: int


def find_personal_data(text: str) -> list[Finding]:
    found: list[Finding] = []

    def free(start: int, end: int) -> bool:
        return all(end <= f.start or start >= f.end for f in found)

    for m in _NHS_CANDIDATE.finditer(text):
        if nhs_number_is_valid("".join(m.groups())) and free(m.start(), m.end()):
            found.append(Finding("NHS number", m.start(), m.end()))
    for kind, pattern in _PATTERNS:
        for m in pattern.finditer(text):
            start, end = (m.start(1), m.end(1)) if kind == "name" else (m.start(), m.end())
            if free(start, end):
                found.append(Finding(kind, start, end))
    return sorted(found, key=lambda f: f.start)


def redact(text: str) -> tuple[str, list[Finding]]:
    findings = find_personal_data(text)
    out = text
    for f in sorted(findings, key=lambda f: f.start, reverse=True):
        out = out[: f.start] + f"[{f.kind} removed]" + out[f.end :]
    return out, findings


# ------------------------------------------------------------------------------------ danger, injection

_HARM = (
    r"(?:hurt|hit|hitting|beat|beaten|beating|attack\w*|abus\w*|assault\w*|stab\w*|strangl\w*|chok\w*"
    r"|kill\w*|rap\w+)"
)
_NOW = r"(?:now|right now|tonight|at the moment|currently)"
_DANGER = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\b(?:immediate|imminent)\s+(?:danger|risk|harm)\b",
        r"\bin\s+danger\b",
        rf"\b(?:is|are|being|getting)\s+(?:being\s+|getting\s+)?{_HARM}\b.*\b{_NOW}\b",
        rf"\b{_NOW}\b.*\b{_HARM}\b",
        r"\b(?:going to|gonna|threaten\w*\s+to|will)\s+(?:kill|hurt|harm|stab|burn)\b",
        r"\b(?:has|with|holding|waving)\s+(?:a\s+)?(?:knife|gun|weapon|blade)\b",
        r"\b(?:not breathing|unconscious|unresponsive|overdos\w*|suicid\w*)\b",
        r"\bkill\s+(?:him|her|them)sel(?:f|ves)\b",
        r"\b(?:child|boy|girl|baby|toddler|son|daughter|he|she|they)\s+"
        r"(?:has\s+gone|is|are|went|has\s+been)\s+missing\b",
        r"\b(?:left\s+alone|home\s+alone|locked\s+(?:in|out))\b.*\b(?:baby|toddler|infant|young\s+child|tonight|now)\b",
    )
)


def in_immediate_danger(text: str) -> bool:
    return any(p.search(text) for p in _DANGER)


_INJECTION = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\b(?:ignore|disregard|forget|override)\b.{0,40}\b(?:instructions|rules|prompt|guidelines|above|previous)\b",
        r"\b(?:system|developer|hidden)\s+(?:prompt|message|instructions)\b",
        r"\byou\s+are\s+now\b|\bact\s+as\b|\bpretend\s+(?:to\s+be|you\s+are)\b|\brole-?play\b",
        r"\bjailbreak\b|\bDAN\b|\bdeveloper\s+mode\b",
        r"\b(?:reveal|print|show|repeat)\b.{0,30}\b(?:prompt|instructions)\b",
        r"</?(?:system|assistant|user)>|\[/?INST\]|<\|im_(?:start|end)\|>",
    )
)


def looks_like_injection(text: str) -> bool:
    return any(p.search(text) for p in _INJECTION)


# --------------------------------------------------------------------------------------------- together


@dataclass
class CheckedInput:
    text: str  # hidden characters removed and personal details replaced: the only form used from here on
    personal_data: list[str] = field(default_factory=list)
    hidden_removed: int = 0
    emergency: bool = False
    injection: bool = False
    notices: list[str] = field(default_factory=list)


def check_input(raw: str, max_chars: int = 2000) -> CheckedInput:
    if raw is None or not raw.strip():
        raise InvalidQuery("the question is empty: type a question")
    if len(raw) > max_chars:
        raise InvalidQuery(f"the question is {len(raw)} characters; the limit is {max_chars}: shorten it")
    text, hidden = strip_hidden(raw)
    if not text.strip():
        raise InvalidQuery("the question has no visible text")
    emergency = in_immediate_danger(text)
    redacted, findings = redact(text)
    kinds = sorted({f.kind for f in findings})
    notices: list[str] = []
    if emergency:
        notices.append(EMERGENCY_NOTICE)
    if kinds:
        notices.append(PERSONAL_DATA_NOTICE.format(kinds=", ".join(kinds)))
    return CheckedInput(
        text=redacted,
        personal_data=kinds,
        hidden_removed=hidden,
        emergency=emergency,
        injection=looks_like_injection(text),
        notices=notices,
    )
