"""Word lists written as one space-separated string (long lists stay readable, and ruff keeps them), and
finding listed phrases in a text as whole words, the longest first."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from importlib.resources import files
from typing import TypeVar

T = TypeVar("T")

# A word the indexed documents use on its own, in lower case, as an ordinary word of the trade ("staff",
# "case", "lead"), travels with their lower-case phrases as the pair (word, ON_ITS_OWN).
ON_ITS_OWN = ""
# An area of the indexed documents (a manifest's `authority`, "hampshire", "west-sussex") travels with them
# as the pair (name, A_PLACE): the personal-detail check keeps it as a place, not a name.
A_PLACE = "\x00place"


def words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def listed(name: str) -> list[str]:
    """The entries of a packaged list in `safeguide/safety_data/`: one per line, blank lines and `#`
    comments left out."""
    text = (files("safeguide.safety_data") / name).read_text(encoding="utf-8")
    return [x.strip() for x in text.splitlines() if x.strip() and not x.lstrip().startswith("#")]


@functools.cache
def whole_words(phrase: str) -> re.Pattern[str]:
    """The (lower-case, normalised) phrase as whole words."""
    return re.compile(rf"(?<![a-z0-9]){re.escape(phrase)}(?![a-z0-9])")


def claim(text: str, phrases: Iterable[tuple[str, T]]) -> list[tuple[int, T, str]]:
    """Where `phrases` ((phrase, value), longest first) occur in `text` as whole words, as (position,
    value, phrase) in text order. A phrase only claims words no earlier (longer) phrase has claimed:
    "cp plan" takes its words before "cp" can."""
    taken: list[tuple[int, int]] = []
    out: list[tuple[int, T, str]] = []
    for phrase, value in phrases:
        for m in whole_words(phrase).finditer(text):
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue
            taken.append((m.start(), m.end()))
            out.append((m.start(), value, phrase))
    return sorted(out, key=lambda x: (x[0], x[2]))
