"""What paragraph parsing works on: a document's lines (with their pages), the paragraphs it yields, the
numbering styles, and the small text helpers every style shares."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum


class Style(StrEnum):
    HIERARCHICAL = "hierarchical"
    PLAIN = "plain"
    BRACKETED = "bracketed"
    HEADINGS = "headings"


@dataclass(frozen=True)
class Line:
    text: str
    page: int | None = None


@dataclass(frozen=True)
class Paragraph:
    """One citable paragraph (or one part of a long one)."""

    number: str | None
    heading_path: tuple[str, ...]
    text: str
    page: int | None = None
    kind: str = "paragraph"  # paragraph | nb | point
    after: str | None = None  # for unnumbered NB paragraphs: the number they follow
    ref_page: int | None = None  # bracketed style: page in the referenced document
    refs: str | None = None  # bracketed style: every reference in the point, as printed
    part: int = 1
    parts: int = 1


@dataclass
class _Draft:
    number: str | None
    heading_path: tuple[str, ...]
    lines: list[str] = field(default_factory=list)
    page: int | None = None
    kind: str = "paragraph"
    after: str | None = None

    def add(self, text: str, page: int | None) -> None:
        if self.page is None:
            self.page = page
        self.lines.append(text)

    @property
    def text(self) -> str:
        return _join(self.lines)


# --------------------------------------------------------------------------------------------------
# Line-level patterns

HIER_ALONE = re.compile(r"^(\d{1,3}(?:\.\d{1,3}){1,3})\.?\s*$")
HIER_TEXT = re.compile(r"^(\d{1,3}(?:\.\d{1,3}){1,3})\.?\s+(\S.*)$")
TOP_ALONE = re.compile(r"^(\d{1,2})\.?\s*$")
TOP_TEXT = re.compile(r"^(\d{1,2})\.?\s+(\S.*)$")
PART_LINE = re.compile(r"^PART\s+(\d+|[IVX]+)\b\s*[-–:]?\s*(.*)$", re.IGNORECASE)
PLAIN_NUM = re.compile(r"^(?:-\s*)?(\d{1,3})\.(?:\s+(.*)|\s*$)")
BULLET = re.compile(r"^(?:[-*•·▶▪○◦]\s*)+(?=\S)|^(?:[-*•·▶▪○◦]\s*)+$")
MD_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
# A paragraph's own label at its start in an otherwise unnumbered document: a letter and number ("B1.")
# or a dotted number ("4.2"); a bare number could be a year ("2018 guidance ...") and is not taken.
PARA_LABEL = re.compile(r"^([A-Z]{1,2}\d{1,3}|\d{1,3}(?:\.\d{1,3})+)[.)]?\s+(?=[A-Z])")
WT_REF = re.compile(
    r"\(\s*p\s*(\d+)(?:\s*[-–]\s*\d+)?\s*[,\s]\s*(\d+\s*[.:]\s*\d+(?:\s*[-–/]\s*\d+(?:\s*[.:]\s*\d+)?)?)"
)
WT_REF_ANY = re.compile(r"\(\s*p\s*\d+")
CHAPTER = re.compile(r"^(?:Chapter|CHAPTER)\s+(\d+)\b")
FURNITURE = re.compile(
    r"^(?:\+?\d[\d\s()-]{6,}\d|(?:e-?mail|tel|telephone|fax)\s*:?.*@.*|\[?(?:https?://|www\.)\S+\]?(?:\(\S+\))?|"
    r"Email:\s*\[?\S+@\S+.*)$",
    re.IGNORECASE,
)
_TAG = re.compile(r"<[^>]+>")
_EMPH = re.compile(r"\*{1,3}([^*\n]+?)\*{1,3}")


def clean_inline(text: str) -> str:
    """Strip markdown emphasis, HTML tags and entities; fold white space."""
    text = _TAG.sub("", text)
    text = html.unescape(text)
    text = _EMPH.sub(r"\1", text)
    text = text.replace("**", "").replace("\u00a0", " ").replace("\t", " ")
    return re.sub(r"[ ]{2,}", " ", text).strip()


def _join(lines: Iterable[str]) -> str:
    out: list[str] = []
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        out.append(line)
    return "\n".join(out)


def _is_upper_title(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    if len(letters) < 3 or len(text) > 140 or text.rstrip().endswith("."):
        return False
    upper = sum(1 for c in letters if c.isupper())
    return upper / len(letters) >= 0.85


def _strip_bullet(text: str) -> str:
    return BULLET.sub("", text).strip()


def _is_bullet(text: str) -> bool:
    return bool(BULLET.match(text))


def _norm_words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def _similar(a: str, b: str) -> bool:
    wa, wb = set(_norm_words(a)), set(_norm_words(b))
    if not wa or not wb:
        return False
    common = len(wa & wb)
    return common / max(len(wa), len(wb)) >= 0.75 or _norm_words(a) == _norm_words(b)


def _count(dropped: dict[str, int], reason: str) -> bool:
    dropped[reason] = dropped.get(reason, 0) + 1
    return False


def _next_nonblank(lines: Sequence[Line], i: int) -> int | None:
    j = i + 1
    while j < len(lines) and not lines[j].text.strip():
        j += 1
    return j if j < len(lines) else None
