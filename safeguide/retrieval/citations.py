"""Find the indexed paragraph a citation points at: document + paragraph number (or heading) + evidence."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


def normalise(text: str) -> str:
    """Fold white space, case and curly quotes, so an evidence phrase matches however it was typed."""
    text = text.replace("‘", "'").replace("’", "'").replace("“", '"').replace("”", '"')
    return re.sub(r"\s+", " ", text).strip().lower()


def contains(text: str, phrase: str) -> bool:
    return normalise(phrase) in normalise(text)


# The marker(s) at the start of a list item's line: "- ", "· ", "- ▶ ".
LIST_MARKER = r"(?:[-·•▶*]\s*)+"
_FIRST_ITEM = re.compile(rf":[ \t]*\n\s*{LIST_MARKER}")
_NEXT_ITEM = re.compile(rf"[.;,]?[ \t]*\n\s*{LIST_MARKER}")


def as_quoted(text: str) -> str:
    """A passage's text as a quotation gives a list in it: its lead-in, then the items joined by "; "
    ("... accessed by the following: social workers; police sergeants"), where the passage has a line
    for each item after its marker. Nothing else is changed."""
    return _NEXT_ITEM.sub("; ", _FIRST_ITEM.sub(": ", text))


def names(paragraph: str | None, heading: str, want_paragraph: str | None, want_heading: str | None) -> bool:
    """Does a passage (its paragraph number and heading path) sit where a citation points?"""
    if want_paragraph:
        return paragraph == want_paragraph
    return bool(want_heading) and want_heading in heading.split(" › ")


@dataclass(frozen=True)
class CitedPassage:
    doc_id: str
    paragraph: str | None
    heading: str
    label: str
    text: str

    def public(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id,
            "paragraph": self.paragraph,
            "heading": self.heading,
            "label": self.label,
            "text": self.text,
        }


def find_passage_index(
    metas: list[dict[str, Any]],
    texts: list[str],
    doc_id: str,
    paragraph: str | None,
    heading: str | None,
    evidence: str,
) -> int | None:
    """Position of the first chunk of `doc_id` at that paragraph (or heading) that holds `evidence`."""
    for i, (meta, text) in enumerate(zip(metas, texts, strict=True)):
        if meta["doc_id"] != doc_id:
            continue
        if names(meta["paragraph"] or None, meta["heading"], paragraph, heading) and contains(text, evidence):
            return i
    return None


def find_passage(
    metas: list[dict[str, Any]],
    texts: list[str],
    doc_id: str,
    paragraph: str | None,
    heading: str | None,
    evidence: str,
) -> CitedPassage | None:
    """The chunk a citation points at, or None where the index does not hold it."""
    i = find_passage_index(metas, texts, doc_id, paragraph, heading, evidence)
    return None if i is None else passage_at(metas, texts, i)


def passage_at(metas: list[dict[str, Any]], texts: list[str], i: int) -> CitedPassage:
    meta = metas[i]
    return CitedPassage(
        meta["doc_id"], meta["paragraph"] or None, meta["heading"], meta["citation"], texts[i]
    )
