"""The hierarchical numbering style ("8.2.6", "3.1"): statutory texts and procedures manuals whose
paragraphs carry chapter.section.paragraph numbers, with chapter headings in capitals or in sentence case."""

from __future__ import annotations

from collections.abc import Sequence

from ingest.lines import (
    FURNITURE,
    HIER_ALONE,
    HIER_TEXT,
    PART_LINE,
    TOP_ALONE,
    TOP_TEXT,
    Line,
    _count,
    _Draft,
    _is_bullet,
    _is_upper_title,
    _next_nonblank,
    clean_inline,
)


def _titles_its_first_section(lines: Sequence[Line], i: int, number: str, rest: str, chapter: int) -> bool:
    """ "3 Strategy discussions" followed by "3.1 ...": a chapter heading in sentence case."""
    if int(number) != chapter + 1 or len(rest) > 80 or rest.rstrip()[-1:] in ".,;:":
        return False
    j = _next_nonblank(lines, i)
    return j is not None and lines[j].text.strip().startswith(f"{number}.1")


def _parse_hierarchical(lines: Sequence[Line], dropped: dict[str, int]) -> list[_Draft]:
    drafts: list[_Draft] = []
    path: dict[int, tuple[str, str]] = {}  # level -> (section number or "", title)
    current: _Draft | None = None  # the open numbered paragraph, if any
    loose: _Draft | None = None  # an unnumbered paragraph under a heading
    numbered_seen = False
    chapter = 0

    def heading_path() -> tuple[str, ...]:
        return tuple(path[k][1] for k in sorted(path))

    def set_heading(level: int, title: str, number: str = "") -> None:
        nonlocal current, loose, chapter
        for k in [k for k in path if k >= level]:
            del path[k]
        path[level] = (number, clean_inline(title))
        current = None
        loose = None
        if number and "." not in number:
            chapter = int(number)

    def start(number: str | None, text: str, page: int | None) -> None:
        nonlocal current, loose, numbered_seen
        if number is not None:
            # A section whose heading was never printed: drop headings this number is not under.
            for k in [k for k in path if k >= 1 and path[k][0]]:
                if not (number + ".").startswith(path[k][0] + "."):
                    del path[k]
        draft = _Draft(number=number, heading_path=heading_path())
        if text:
            draft.add(clean_inline(text), page)
        elif page is not None:
            draft.page = page
        drafts.append(draft)
        if number is None:
            loose, current = draft, None
        else:
            current, loose = draft, None
            numbered_seen = True

    i = 0
    blank_before = True
    while i < len(lines):
        raw = lines[i].text
        text = raw.strip()
        page = lines[i].page
        if not text:
            blank_before = True
            i += 1
            continue
        if FURNITURE.match(clean_inline(text)):
            _count(dropped, "page furniture")
            i += 1
            continue
        m_part = PART_LINE.match(text)
        if m_part and len(text) <= 80:
            title = f"PART {m_part.group(1)}"
            rest = m_part.group(2).strip(" -–")
            j = _next_nonblank(lines, i)
            if not rest and j is not None and lines[j].text.strip().startswith("-"):
                nxt = lines[j].text.strip().lstrip("- ").strip()
                if _is_upper_title(nxt):
                    rest, i = nxt, j
            set_heading(0, f"{title} – {rest}" if rest else title)
            i += 1
            blank_before = False
            continue
        m_alone = HIER_ALONE.match(text) or TOP_ALONE.match(text)
        if m_alone:
            number = m_alone.group(1)
            j = _next_nonblank(lines, i)
            nxt = lines[j].text.strip() if j is not None else ""
            nxt_is_number = bool(HIER_ALONE.match(nxt) or HIER_TEXT.match(nxt))
            titled = (
                j is not None
                and not nxt_is_number
                and (
                    _is_upper_title(nxt)
                    or (
                        "." not in number and int(number) == chapter + 1 and len(nxt) <= 80 and nxt[-1] != "."
                    )
                )
            )
            if titled:
                set_heading(number.count(".") + 1, f"{number} {nxt}", number)
                i = (j or i) + 1
            elif "." in number:
                start(number, "", page)
                i += 1
            else:  # a lone small number followed by ordinary text: a page number
                _count(dropped, "page furniture")
                i += 1
            blank_before = False
            continue
        m_hier = HIER_TEXT.match(text)
        if m_hier:
            number, rest = m_hier.group(1), m_hier.group(2)
            if _is_upper_title(rest):
                set_heading(number.count(".") + 1, f"{number} {rest}", number)
            else:
                start(number, rest, page)
            i += 1
            blank_before = False
            continue
        m_top = TOP_TEXT.match(text)
        if m_top and (
            (_is_upper_title(m_top.group(2)) and (blank_before or int(m_top.group(1)) == chapter + 1))
            or _titles_its_first_section(lines, i, m_top.group(1), m_top.group(2), chapter)
        ):
            set_heading(1, f"{m_top.group(1)} {m_top.group(2)}", m_top.group(1))
            i += 1
            blank_before = False
            continue
        if not numbered_seen and _is_upper_title(text) and current is None:
            set_heading(1, text)
            i += 1
            blank_before = False
            continue
        # Ordinary text: belongs to the open numbered paragraph, or forms unnumbered paragraphs.
        if current is not None:
            current.add(clean_inline(text), page)
        elif loose is not None and (
            not blank_before or _is_bullet(text) or text[:1].islower() or TOP_TEXT.match(text)
        ):
            loose.add(clean_inline(text), page)
        else:
            start(None, text, page)
        blank_before = False
        i += 1
    return drafts
