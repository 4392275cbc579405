"""Check a drafted answer, sentence by sentence, in code.

- a citation that names no retrieved source is removed; a sentence left with none is dropped;
- each sentence is checked against the passages it cites: a lexical overlap test (share of its content
  words found in the passage) and, where a model is available, the model as a yes/no judge;
- a date, or a deadline (a number of days, weeks, months or hours), that neither the timescales module
  produced nor the cited passage states, drops the sentence.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ingest.lexical import tokenize
from safeguide.retrieval.citations import as_quoted

CITE = re.compile(r"\s*\[(\d{1,2})\]")
QUOTE = re.compile(r"“([^”]{12,})”")
# A sentence ends at . ! ? or at a citation marker ("... intervals.” [1] Next ..."), or at a line break.
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z“\"'(])|(?<=\])\s+(?=[A-Z“\"'(])|\n+")
_WEEKDAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
DATE_TEXT = re.compile(
    rf"\b(?:{_WEEKDAY},?\s+)?\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH}(?:\s+\d{{4}})?\b"
    rf"|\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?\b|\b\d{{1,2}}/\d{{1,2}}/\d{{2,4}}\b|\b\d{{4}}-\d{{2}}-\d{{2}}\b"
)
_NUM = (
    r"(?:\d+(?:-\d+)?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty)"
)
DURATION = re.compile(
    rf"\b{_NUM}[\s-]+(?:working\s+|calendar\s+|clear\s+)?(?:days?|weeks?|months?|hours?|minutes?|years?)\b",
    re.IGNORECASE,
)
LEXICAL_THRESHOLD = 0.6  # share of a sentence's content words that its passage must contain
LEXICAL_WITH_JUDGE = 0.35  # a lower bar when the model judge also says yes


@dataclass
class SentenceCheck:
    text: str
    cited: list[int]
    lexical: float
    judge: str | None  # "yes", "no" or None (no model)
    kept: bool
    reason: str = ""
    cited_by: str = "model"  # "code": the model gave no marker and verification assigned one;
    # "quote": a quotation composed in code when nothing the model wrote survived


@dataclass
class Verified:
    sentences: list[SentenceCheck] = field(default_factory=list)

    @property
    def kept(self) -> list[SentenceCheck]:
        return [s for s in self.sentences if s.kept]

    def text(self) -> str:
        """The kept sentences, each with its markers before the closing punctuation: "... intervals [1]."."""
        out = []
        for s in self.kept:
            markers = "".join(f"[{n}]" for n in s.cited)
            body, end = (s.text[:-1], s.text[-1]) if s.text[-1:] in ".!?" else (s.text, ".")
            if body.endswith(("”", '"')) and s.text[-1:] not in ".!?":
                end = ""
            out.append(f"{body} {markers}{end}")
        return " ".join(out)


_QUOTED = re.compile(r"“[^”]*”")


def split_sentences(text: str) -> list[str]:
    """Sentences, never cut inside a “quotation” (a quote of several sentences stays one claim)."""
    quotes: list[str] = []

    def stash(m: re.Match[str]) -> str:
        quotes.append(m.group(0))
        return f"\x00{len(quotes) - 1}\x00"

    protected = _QUOTED.sub(stash, text.strip())
    parts = [p.strip() for p in SENTENCE_END.split(protected) if p.strip()]
    return [re.sub(r"\x00(\d+)\x00", lambda m: quotes[int(m.group(1))], p) for p in parts]


def lexical_support(sentence: str, passage: str) -> float:
    words = set(tokenize(sentence))
    if not words:
        return 0.0
    return len(words & set(tokenize(passage))) / len(words)


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower())


def verify(
    draft: str,
    passages: Sequence[str],
    allowed_dates: set[str],
    judge: Callable[[str, str], str] | None = None,
) -> Verified:
    """`passages[n-1]` is source [n]; `allowed_dates` are date texts the timescales module produced."""
    result = Verified()
    for raw in split_sentences(draft):
        numbers = [int(n) for n in CITE.findall(raw)]
        text = CITE.sub("", raw).strip()
        if not text or not re.search(r"[A-Za-z]", text):
            continue
        cited = [n for n in dict.fromkeys(numbers) if 1 <= n <= len(passages)]
        check = SentenceCheck(text=text, cited=cited, lexical=0.0, judge=None, kept=False)
        result.sentences.append(check)
        if numbers and not cited:
            check.reason = "cites no retrieved source"
            continue
        if not cited:
            # Small models often forget the marker. The passage that best supports the sentence is
            # assigned in code, and the sentence is then checked against it like any other.
            best = max(range(len(passages)), key=lambda i: lexical_support(text, passages[i]), default=None)
            if best is None or lexical_support(text, passages[best]) < LEXICAL_WITH_JUDGE:
                check.reason = "cites nothing, and no source supports it"
                continue
            check.cited = cited = [best + 1]
            check.cited_by = "code"
        support = " ".join(passages[n - 1] for n in cited)
        quoted = QUOTE.search(text)
        if quoted:
            # A quotation must stand in its source word for word; the words around it only label it. A
            # list's items may be quoted joined by "; " where the passage puts each on a line (`as_quoted`).
            words = _norm(quoted.group(1)).rstrip(". ")
            if words not in _norm(support) and words not in _norm(as_quoted(support)):
                check.lexical = round(lexical_support(quoted.group(1), support), 3)
                check.reason = "quotation not found word for word in the cited source"
                continue
            check.lexical = 1.0
            text_to_check = quoted.group(1)
        else:
            check.lexical = round(lexical_support(text, support), 3)
            text_to_check = text
        dates = [
            d
            for d in DATE_TEXT.findall(text_to_check)
            if not any(_norm(d) in _norm(a) for a in allowed_dates)
        ]
        if dates:
            check.reason = f"date not from the timescales module: {dates[0]}"
            continue
        durations = [d for d in DURATION.findall(text_to_check) if _norm(d) not in _norm(support)]
        if durations:
            check.reason = f"deadline not in the cited source: {durations[0]}"
            continue
        if judge is not None:
            check.judge = judge(support, text_to_check)
            check.kept = check.judge == "yes" and check.lexical >= LEXICAL_WITH_JUDGE
            check.reason = "" if check.kept else f"judge: {check.judge}, overlap {check.lexical}"
        else:
            check.kept = check.lexical >= LEXICAL_THRESHOLD
            check.reason = "" if check.kept else f"overlap {check.lexical} below {LEXICAL_THRESHOLD}"
    return result


def judge_answer(reply: str) -> str:
    """Read a yes/no from the judge model's reply; anything else counts as no."""
    word = re.findall(r"[a-z]+", reply.lower())
    return "yes" if word and word[0] == "yes" else "no"
