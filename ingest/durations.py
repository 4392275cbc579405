"""Durations as documents write them: "15 working days", "forty-eight hours", "within 1-5 days",
"six-weekly", with the timing word in front ("within", "no later than", "at least every") and the
relation after ("of", "before", "following"). Used by the timescale reader (timescale_extract.py).
"""

from __future__ import annotations

import re

NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "twenty": 20,
    "twenty-one": 21,
    "twenty-eight": 28,
    "thirty": 30,
    "thirty-five": 35,
    "forty": 40,
    "forty-five": 45,
    "sixty": 60,
    "ninety": 90,
}
UNITS = {
    "working day": "working_days",
    "working days": "working_days",
    "business day": "working_days",
    "business days": "working_days",
    "calendar day": "calendar_days",
    "calendar days": "calendar_days",
    "day": "calendar_days",
    "days": "calendar_days",
    "week": "weeks",
    "weeks": "weeks",
    "month": "months",
    "months": "months",
    "hour": "hours",
    "hours": "hours",
    "minute": "minutes",
    "minutes": "minutes",
    "year": "years",
    "years": "years",
}
_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_NUMBER = rf"(?:{'|'.join(_TENS)})[\s-](?:one|two|three|four|five|six|seven|eight|nine)\b|" + "|".join(
    sorted(NUMBER_WORDS, key=len, reverse=True)
)
# "six-weekly", "three weekly", "fortnightly", "monthly": how often, written as one word.
FREQUENCY = re.compile(
    rf"(?:(?P<amount>\d{{1,2}}|{'|'.join(sorted(NUMBER_WORDS, key=len, reverse=True))})[\s-])?"
    r"(?P<unit>weekly|monthly|fortnightly|daily)\b",
    re.IGNORECASE,
)


FREQUENCY_UNITS = {"weekly": "weeks", "monthly": "months", "fortnightly": "weeks", "daily": "calendar_days"}


def to_int(word: str) -> int:
    """ "12", "twelve", "twenty four", "forty-eight" as an int."""
    w = " ".join(word.lower().replace("-", " ").split())
    if w.isdigit():
        return int(w)
    if " " in w:
        tens, unit = w.split(" ", 1)
        return _TENS[tens] + NUMBER_WORDS[unit]
    return NUMBER_WORDS[w]


_UNIT = "|".join(sorted((re.escape(u) for u in UNITS), key=len, reverse=True))
DURATION = re.compile(
    rf"""(?P<cue>within|no\s+later\s+than|not\s+later\s+than|no\s+more\s+than|not\s+more\s+than
        |no\s+(?:fewer|less)\s+than|not\s+(?:fewer|less)\s+than
        |at\s+intervals\s+of(?:\s+not\s+more\s+than|\s+no\s+more\s+than)?|at\s+least(?:\s+once)?(?:\s+in)?(?:\s+every)?
        |(?:once\s+)?(?:in\s+)?every|at\s+the\s+latest|maximum\s+of|up\s+to
        |longer\s+than|more\s+than|exceeds?|over|usually|normally|typically|generally|at)?\s*(?:the\s+first\s+)?
        (?:(?P<minimum>\d{{1,3}}|{_NUMBER})\s*(?:-|–|to)\s*)?
        (?P<amount>\d{{1,3}}|{_NUMBER})[\s-]+(?P<unit>{_UNIT})\b
        (?:\s*(?P<rel>of|after|from|following|before|prior\s+to|since|beforehand|in\s+advance(?:\s+of)?))?""",
    re.IGNORECASE | re.VERBOSE,
)
