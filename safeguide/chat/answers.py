"""What every answer is made of (``Answer``, its ``Source``s), the wording shared by every route, and
``ChainCore``: the parts of the answer chain every route uses (sources numbered, notices on editions and
areas, provenance, refusals).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ingest.timescale_extract import Vocabulary
from safeguide.chat.pathway import Navigator
from safeguide.chat.prompts import load_prompt
from safeguide.chat.verify import Verified
from safeguide.compare.comparer import Comparer
from safeguide.models import ChatModel
from safeguide.retrieval.hybrid import HybridRetriever, PassageOut, SearchResult
from safeguide.safety import CheckedInput
from safeguide.timescales.calendar import WorkingCalendar
from safeguide.timescales.rules import Rule, RuleSet

EDITION_NAMES = {
    "pre-2010": "guidance before WT 2010",
    "2010": "WT 2010",
    "2013": "WT 2013",
    "2015": "WT 2015",
    "2018": "WT 2018",
    "2023": "WT 2023",
}

SUPERSEDED_BY = {"pre-2010": "2010", "2010": "2013", "2013": "2015", "2015": "2018", "2018": "2023"}

CURRENT = "2023"

NOT_ANSWERED = "The guidance held does not answer this. The closest passages are listed below."

COMPARE = re.compile(r"\b(?:chang\w*|differen\w*|compare\w*|new\s+in|replac\w*)\b", re.IGNORECASE)

YEARS = re.compile(r"\b(2010|2013|2015|2018|2023)\b")

PLACEHOLDER = re.compile(r"\[[a-zA-Z ]+ removed\]")


class Source(SearchResult):
    """A retrieved passage as an answer cites it: [n]."""

    n: int

    def public(self) -> dict[str, Any]:
        return {"n": self.n, **self.model_dump(include=set(PassageOut.model_fields) - {"score"})}


@dataclass
class Answer:
    answer: str
    citations: list[Source]
    timescales: list[dict[str, Any]]
    refused: bool
    notices: list[str]
    mode: str
    provenance: dict[str, Any]
    question: str  # the redacted question, the only form ever stored
    draft: str = ""
    verified: Verified | None = None

    def public(self) -> dict[str, Any]:
        return {
            "answer": self.answer,
            "citations": [s.public() for s in self.citations],
            "timescales": self.timescales,
            "refused": self.refused,
            "notices": self.notices,
            "mode": self.mode,
            "provenance": self.provenance,
        }


def trim(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit] + " …"


def unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def says(passage: SearchResult, quote: str, n: int, items: tuple[int, int] = (0, 0)) -> str:
    """A sentence quoted word for word from a passage, with where it comes from and its citation; `items`:
    of a list it quotes, how many items are shown and how many the list has, said before the quotation
    when some are left out (a list cut short must not read as complete)."""
    label = f"{passage.citation} ({EDITION_NAMES.get(passage.edition, passage.edition)}, {passage.authority})"
    shown, total = items
    part = f" (the first {shown} of its list's {total} items)" if shown < total else ""
    return f"{label} says{part}: “{quote}.” [{n}]"


def whose(rule: Rule, own: bool = False) -> str:
    if rule.authority == "national":
        return "the national rule"
    return f"{rule.authority.title()}'s {'own ' if own else ''}rule"


class ChainCore:
    """The parts of the answer chain every route uses."""

    # What every part of the chain reads (the fields of ``AnswerChain``).
    retriever: HybridRetriever
    rules: RuleSet
    calendar: Callable[[str | None], WorkingCalendar]
    model: ChatModel | None
    mode: str
    k: int
    doc_hashes: dict[str, str]
    comparer: Comparer | None
    model_sources: int
    model_source_chars: int
    navigator: Navigator | None
    vocabulary: Vocabulary | None

    def _refusal(self, checked: CheckedInput, notices: list[str], text: str, reason: str) -> Answer:
        provenance = self._provenance([], [], None)
        provenance["safety"] = {"fired": checked.why, "removed": checked.personal_data}
        provenance["refusal"] = reason
        return Answer(text, [], [], True, notices, self.mode, provenance, checked.text)

    def _scope(self) -> list[str]:
        """The names of the areas and editions held: where or when, not what (`cited.closest_sentences`)."""
        reader = self.retriever.reader()
        return [*reader.authorities, *reader.editions]

    def _search_text(self, question: str) -> str:
        """What goes to search: placeholders removed ("[postcode removed]" must not steer it), and clipped
        to the search limit (a question may be longer than a search query)."""
        return PLACEHOLDER.sub(" ", question)[: self.retriever.max_query_chars]

    @staticmethod
    def _add_source(sources: list[Source], r: SearchResult) -> int:
        for s in sources:
            if s.chunk_id == r.chunk_id:
                return s.n
        n = len(sources) + 1
        sources.append(Source(**r.model_dump(), n=n))
        return n

    @staticmethod
    def _named(text: str, options: list[str]) -> str | None:
        words = set(re.findall(r"[a-z]+", text.lower()))
        named = [o for o in options if o != "national" and o in words]
        return named[0] if len(named) == 1 else None

    def _named_edition(self, text: str) -> str | None:
        years = set(YEARS.findall(text))
        held = set(self.retriever.reader().editions)
        if len(years) == 1 and not COMPARE.search(text):
            year = years.pop()
            return year if year in held else None
        return None

    @staticmethod
    def _edition_notices(sources: list[Source]) -> list[str]:
        out: list[str] = []
        seen = sorted({(s.edition, s.authority, s.title) for s in sources})
        if seen:
            out.append(
                "Based on: "
                + "; ".join(
                    f"{title} ({EDITION_NAMES.get(ed, ed)}, {'national' if au == 'national' else au})"
                    for ed, au, title in seen
                )
                + "."
            )
        for ed in sorted({e for e, _, _ in seen}):
            if ed in SUPERSEDED_BY:
                out.append(
                    f"{EDITION_NAMES.get(ed, ed)} has been superseded "
                    f"(by {EDITION_NAMES[SUPERSEDED_BY[ed]]}); current national guidance is "
                    f"{EDITION_NAMES[CURRENT]}, which is not in the documents held. Check the current "
                    "edition and your local procedures."
                )
        for area in sorted({au for _, au, _ in seen if au != "national"}):
            out.append(f"{area.title()}'s procedure applies in {area.title()} only.")
        return out

    def _provenance(
        self, sources: list[Source], rule_ids: list[str], verified: Verified | None
    ) -> dict[str, Any]:
        prompt = load_prompt("answer") if self.model is not None else None
        return {
            "mode": self.mode,
            "model": self.model.name if self.model is not None else None,
            "prompt": {"name": prompt.name, "sha256": prompt.sha256} if prompt else None,
            "chunks": [s.chunk_id for s in sources],
            "documents": {s.doc_id: self.doc_hashes.get(s.doc_id) for s in sources},
            "timescale_rules": rule_ids,
            "verification": [
                {
                    "sentence": c.text,
                    "cited": c.cited,
                    "lexical": c.lexical,
                    "judge": c.judge,
                    "kept": c.kept,
                    "reason": c.reason,
                    "cited_by": c.cited_by,
                }
                for c in (verified.sentences if verified else [])
            ],
        }
