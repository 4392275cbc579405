"""Parsers for the other numbering styles (hierarchical numbers, "8.2.6", are in hierarchical.py): plain
numbers ("12.") with unnumbered "NB:" paragraphs, bracketed references into WT 2010 ("(p145, 5.39)"),
and headings only."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ingest.lines import (
    CHAPTER,
    FURNITURE,
    MD_HEADING,
    PARA_LABEL,
    PART_LINE,
    PLAIN_NUM,
    WT_REF_ANY,
    Line,
    _count,
    _Draft,
    _is_bullet,
    _is_upper_title,
    _next_nonblank,
    _strip_bullet,
    clean_inline,
)

# --------------------------------------------------------------------------------------------------
# Style: plain numbered paragraphs (S3)


def _heading_candidate(lines: Sequence[Line], i: int) -> bool:
    text = lines[i].text.strip()
    if not text or len(text) > 120 or _is_bullet(text) or PLAIN_NUM.match(text):
        return False
    if text[-1] in ".,;:" or not text[0].isupper() or re.search(r"[:@]|\d{3,}", text):
        return False
    before_blank = i == 0 or not lines[i - 1].text.strip()
    after_blank = i + 1 >= len(lines) or not lines[i + 1].text.strip()
    return before_blank and after_blank


def _parse_plain(lines: Sequence[Line], dropped: dict[str, int]) -> list[_Draft]:
    drafts: list[_Draft] = []
    path: list[str] = []
    levels: list[int] = []
    current: _Draft | None = None
    last_number: str | None = None
    last_number_int = 0
    previous_was_heading = False

    def set_heading(level: int, title: str) -> None:
        while levels and levels[-1] >= level:
            levels.pop()
            path.pop()
        levels.append(level)
        path.append(clean_inline(title))

    for i, line in enumerate(lines):
        text = line.text.strip()
        if not text:
            continue
        if FURNITURE.match(clean_inline(text)):
            _count(dropped, "page furniture")
            continue
        m = PLAIN_NUM.match(text)
        if m and 0 < int(m.group(1)) - last_number_int <= 3:
            last_number_int = int(m.group(1))
            last_number = m.group(1)
            current = _Draft(number=last_number, heading_path=tuple(path), page=line.page)
            rest = (m.group(2) or "").strip()
            if rest:
                current.add(clean_inline(rest), line.page)
            drafts.append(current)
            previous_was_heading = False
            continue
        if text.upper().startswith("NB:") or text.upper().startswith("NB "):
            current = _Draft(
                number=None, heading_path=tuple(path), page=line.page, kind="nb", after=last_number
            )
            current.add(clean_inline(text), line.page)
            drafts.append(current)
            previous_was_heading = False
            continue
        if _heading_candidate(lines, i):
            if _is_upper_title(text):
                level = 1
            else:
                j = _next_nonblank(lines, i)
                followed_by_heading = j is not None and _heading_candidate(lines, j)
                level = 3 if previous_was_heading and 2 in levels and levels[-1] == 2 else 2
                if not followed_by_heading and not previous_was_heading:
                    level = 3 if 2 in levels else 2
            set_heading(level, text)
            current = None
            previous_was_heading = True
            continue
        previous_was_heading = False
        if current is None:
            current = _Draft(number=None, heading_path=tuple(path), page=line.page)
            drafts.append(current)
        current.add(clean_inline(text), line.page)
    return drafts


# --------------------------------------------------------------------------------------------------
# Style: bracketed references into another document (S1)

_SUBHEADING = re.compile(r"^(Key changes include|Specific changes|Further amendments .*)[:;]?\s*$", re.I)
_APPENDIX = re.compile(r"^Appendix\s+\w+\b", re.I)


def _parse_bracketed(lines: Sequence[Line], dropped: dict[str, int]) -> list[_Draft]:
    drafts: list[_Draft] = []
    path: dict[int, str] = {}
    current: _Draft | None = None

    def set_heading(level: int, title: str) -> None:
        nonlocal current
        for k in [k for k in path if k >= level]:
            del path[k]
        path[level] = clean_inline(title).rstrip(":; ")
        current = None

    def new(text: str, page: int | None) -> None:
        nonlocal current
        current = _Draft(number=None, heading_path=tuple(path[k] for k in sorted(path)), page=page)
        current.add(clean_inline(text), page)
        drafts.append(current)

    def new_point(text: str, page: int | None) -> None:
        new(text, page)
        assert current is not None
        current.kind = "point"

    for line in lines:
        text = line.text.strip()
        if not text:
            continue
        if FURNITURE.match(clean_inline(text)):
            _count(dropped, "page furniture")
            continue
        if _is_bullet(text):
            body = _strip_bullet(text)
            if not body:
                continue
            has_ref = current is not None and bool(WT_REF_ANY.search(current.text))
            if current is not None and body[0].islower() and not has_ref:
                current.add(body, line.page)
            else:
                new_point(body, line.page)
            continue
        if PART_LINE.match(text):
            set_heading(0, text)
            continue
        if CHAPTER.match(text) or _APPENDIX.match(text):
            set_heading(1, text)
            continue
        if _SUBHEADING.match(text):
            set_heading(2, text)
            continue
        if current is not None and text[0].islower():
            current.add(clean_inline(text), line.page)
        else:
            new(text, line.page)
    return drafts


# --------------------------------------------------------------------------------------------------
# Style: headings only (S0, S4)


def _parse_headings(lines: Sequence[Line], dropped: dict[str, int]) -> list[_Draft]:
    # First group the text into sections (a heading and the blocks under it).
    sections: list[tuple[tuple[str, ...], list[list[Line]]]] = []
    path: dict[int, str] = {}
    blocks: list[list[Line]] = []
    block: list[Line] = []
    label: str | None = None  # "Before" / "Now" sub-headings label the text under them

    def flush_block() -> None:
        nonlocal block
        if block:
            blocks.append(block)
            block = []

    def flush_section() -> None:
        nonlocal blocks
        flush_block()
        if blocks:
            sections.append((tuple(path[k] for k in sorted(path)), blocks))
        blocks = []

    # Where chapters are headings ("## Chapter 5"), converted documents often give sub-headings the
    # same level as the chapter; nest them under the chapter instead of letting them replace it.
    chapter_levels = [
        len(m.group(1))
        for ln in lines
        if (m := MD_HEADING.match(ln.text.strip())) and CHAPTER.match(clean_inline(m.group(2)))
    ]
    chapter_level = min(chapter_levels) if chapter_levels else 0

    for line in lines:
        text = line.text.strip()
        m = MD_HEADING.match(text)
        if m:
            title = clean_inline(m.group(2))
            if title.lower() in {"before", "now"}:
                flush_block()
                label = title
                continue
            flush_section()
            level = len(m.group(1))
            chapter_like = CHAPTER.match(title) or title.lower().startswith("appendi")
            if chapter_level and level <= chapter_level:
                level = chapter_level if chapter_like or not path else chapter_level + 1
            for k in [k for k in path if k >= level]:
                del path[k]
            path[level] = title
            label = None
            continue
        if not text:
            flush_block()
            continue
        if FURNITURE.match(clean_inline(text)):
            _count(dropped, "page furniture")
            continue
        if label is not None and not block:
            text = f"{label}: {text}"
            label = None
        block.append(Line(text, line.page))
    flush_section()

    # Repeated slides: drop a section whose heading and text equal an earlier one; consecutive
    # sections under the same heading continue one another.
    drafts: list[_Draft] = []
    seen: set[tuple[tuple[str, ...], str]] = set()
    previous_path: tuple[str, ...] | None = None
    for heading, section_blocks in sections:
        body = "\n".join(ln.text for b in section_blocks for ln in b)
        key = (heading, body)
        if key in seen:
            _count(dropped, "repeated slide")
            continue
        seen.add(key)
        continuing = heading == previous_path
        previous_path = heading
        for n, b in enumerate(section_blocks):
            first = b[0].text
            prev = drafts[-1] if drafts and drafts[-1].heading_path == heading else None
            if prev is not None and n == 0:
                # A new slide under the same heading continues the last one only where its list
                # visibly runs on (no full stop at the end of the previous slide).
                unfinished = not re.search(r"[.!?][”\"’']?$", prev.text)
                attach = continuing and unfinished and (_is_bullet(first) or first[:1].islower())
            else:
                attach = prev is not None and (
                    _is_bullet(first) or first[:1].islower() or first.startswith("Now:")
                )
            if first.startswith("Now:") and prev is not None and prev.text.startswith("Before:"):
                attach = True
            if attach and prev is not None:
                for ln in b:
                    prev.add(clean_inline(ln.text), ln.page)
                if first.startswith("Now:"):
                    prev.kind = "comparison"
            else:
                # A paragraph that opens with its own label ("B1.", "A3", "4.2") is cited by it.
                m_label = PARA_LABEL.match(b[0].text)
                d = _Draft(number=m_label.group(1) if m_label else None, heading_path=heading, page=b[0].page)
                if m_label:
                    b = [Line(b[0].text[m_label.end() :], b[0].page), *b[1:]]
                for ln in b:
                    d.add(clean_inline(ln.text), ln.page)
                if first.startswith("Before:") and any(ln.text.startswith("Now:") for ln in b):
                    d.kind = "comparison"
                drafts.append(d)
    return drafts
