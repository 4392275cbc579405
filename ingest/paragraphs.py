"""Split a document's text into citable paragraphs.

Pure code: takes the lines of a document (with their page numbers) and returns `Paragraph`s. The
numbering style is read from the text itself, never from the file name:

- ``hierarchical``: section numbers such as ``8.2.6``, alone on a line with the text on the next line
  or followed by the text; a number followed by an upper-case title is a heading (``7.2 INITIAL
  ASSESSMENT``), as is ``PART 2``.
- ``plain``: paragraphs numbered ``1.`` … ``73.`` in sequence, with unnumbered ``NB:`` paragraphs and
  short one-line headings between them.
- ``bracketed``: a summary whose points carry references into another document, ``(p145, 5.39)``:
  page and paragraph of the full guidance. Each bullet point is a paragraph; the reference is its number.
- ``headings``: no numbers at all; ``#`` headings give the path, blank lines separate paragraphs.

Common to all styles: bullets belong to the paragraph that introduces them, tables of contents and
page furniture (running headers and footers, page numbers, phone numbers, e-mail and web addresses,
repeated identical slides) are dropped,
tiny unnumbered fragments are merged into their neighbour, and over-long paragraphs are split into
parts that keep the paragraph's number. Each style's parser is in ``styles.py``; the lines, paragraphs
and text helpers they share are in ``lines.py``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ingest.hierarchical import _parse_hierarchical
from ingest.lines import (
    HIER_ALONE,
    HIER_TEXT,
    PLAIN_NUM,
    WT_REF,
    Line,
    Paragraph,
    Style,
    _count,
    _Draft,
    _similar,
    _strip_bullet,
    clean_inline,
)
from ingest.styles import _parse_bracketed, _parse_headings, _parse_plain

# --------------------------------------------------------------------------------------------------
# Style detection


def detect_style(lines: Sequence[Line]) -> Style:
    """Pick the numbering style from counts of what the text shows."""
    texts = [ln.text.strip() for ln in lines]
    hier = sum(1 for t in texts if HIER_ALONE.match(t) or HIER_TEXT.match(t))
    refs = sum(len(WT_REF.findall(t)) for t in texts)
    numbers = [int(m.group(1)) for t in texts if (m := PLAIN_NUM.match(t))]
    rising = sum(1 for a, b in itertools.pairwise(numbers) if 0 < b - a <= 2)
    if hier >= 10 and hier >= len(numbers) / 2:
        return Style.HIERARCHICAL
    if refs >= 10 and refs >= hier:
        return Style.BRACKETED
    if rising >= 8:
        return Style.PLAIN
    return Style.HEADINGS


# --------------------------------------------------------------------------------------------------
# Shared post-processing


@dataclass
class ParseResult:
    style: Style
    paragraphs: list[Paragraph]
    dropped: dict[str, int]


def parse_paragraphs(
    lines: Sequence[Line], *, max_chars: int = 1200, min_fragment_chars: int = 40
) -> ParseResult:
    """Parse a document's lines into paragraphs. Pure: no I/O."""
    dropped: dict[str, int] = {}
    lines = drop_page_furniture(_prepare(lines), dropped)
    style = detect_style(lines)
    parser = {
        Style.HIERARCHICAL: _parse_hierarchical,
        Style.PLAIN: _parse_plain,
        Style.BRACKETED: _parse_bracketed,
        Style.HEADINGS: _parse_headings,
    }[style]
    drafts = parser(lines, dropped)
    drafts = _drop_toc(drafts, dropped)
    drafts = [d for d in drafts if d.text or _count(dropped, "empty")]
    drafts = _merge_fragments(drafts, min_fragment_chars, dropped)
    paragraphs = [p for d in drafts for p in _finish(d, style, max_chars)]
    return ParseResult(style=style, paragraphs=paragraphs, dropped=dropped)


def _prepare(lines: Sequence[Line]) -> list[Line]:
    """Normalise line endings, turn two-column Before/Now HTML tables into labelled lines."""
    out: list[Line] = []
    i = 0
    items = list(lines)
    while i < len(items):
        text = items[i].text.replace("\r", "").rstrip()
        header = [c.strip().lower() for c in text.split("\t")]
        if len(header) == 2 and all(header) and i + 1 < len(items) and "\t" in items[i + 1].text:
            cells = items[i + 1].text.split("\t")
            if len(cells) == 2:
                out.append(Line("", items[i].page))
                for name, cell in zip(text.split("\t"), cells, strict=True):
                    out.append(Line(f"{name.strip()}: {clean_inline(cell)}", items[i].page))
                out.append(Line("", items[i].page))
                i += 2
                continue
        out.append(Line(text, items[i].page))
        i += 1
    return out


_PAGE_NUMBER = re.compile(r"^(?:page\s+)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?$|^-\s*\d{1,4}\s*-$", re.IGNORECASE)
_CONTENTS_LINE = re.compile(r"^(?P<title>\S.*?\S)(?:\s*[.·…_ ]{2,}\s*|\s+)(?P<page>\d{1,4})$")
_EDGE = 3  # lines at the top and at the bottom of a page where running headers and footers sit


def _shape(text: str) -> str:
    """A line with its numbers blanked: "Page 3 of 12" and "Page 4 of 12" have one shape."""
    return re.sub(r"\d+", "#", " ".join(text.lower().split()))


def drop_page_furniture(lines: Sequence[Line], dropped: dict[str, int]) -> list[Line]:
    """Remove what a printed page adds around the text (documents whose lines carry page numbers):

    - running headers and footers: a line near the top or bottom of a page whose shape (numbers
      blanked) recurs near the edge of at least half the pages, and of two pages at least, once a page;
    - page numbers alone on a line near a page's edge ("12", "Page 3 of 12", "- 4 -");
    - a table of contents: three or more lines ending in a page number, in page order, whose titles
      appear again later in the document as lines of their own (and its "Contents" line);
    - lines anywhere (a title page) made only of the running header's words.
    """
    pages: dict[int, list[int]] = {}
    for i, line in enumerate(lines):
        if line.page is not None and line.text.strip():
            pages.setdefault(line.page, []).append(i)
    if len(pages) < 2:
        return list(lines)
    edge = {i for idx in pages.values() for i in idx[:_EDGE] + idx[-_EDGE:]}
    seen_on: dict[str, list[int]] = {}
    for i in edge:
        seen_on.setdefault(_shape(lines[i].text), []).append(lines[i].page or 0)
    # A running header or footer is printed once on each page it is on; lines of one shape repeated
    # on a page ("4.1 ...", "4.2 ...") are the text itself.
    running = {
        k
        for k, on in seen_on.items()
        if len(set(on)) >= max(2, (len(pages) + 1) // 2) and len(on) == len(set(on))
    }
    remove: dict[int, str] = {}
    for i in edge:
        text = lines[i].text.strip()
        if _shape(text) in running:
            remove[i] = "running header or footer"
        elif _PAGE_NUMBER.match(text):
            remove[i] = "page number"
    contents = _contents_lines(lines, remove)
    remove.update(dict.fromkeys(contents, "table of contents"))
    if contents:
        k = contents[0] - 1
        while k >= 0 and not lines[k].text.strip():
            k -= 1
        if k >= 0 and lines[k].text.strip().lower() in ("contents", "table of contents", "index"):
            remove[k] = "table of contents"
    # A title page repeats the running header's words ("Westmarsh Safeguarding Children Partnership:").
    header_words = [set(re.findall(r"[a-z]+", k)) for k in running]
    for i, line in enumerate(lines):
        found = set(re.findall(r"[a-z]+", line.text.lower()))
        if i not in remove and len(found) >= 2 and any(found <= h for h in header_words):
            remove[i] = "repeated title"
    for reason in remove.values():
        _count(dropped, reason)
    return [line for i, line in enumerate(lines) if i not in remove]


def _contents_lines(lines: Sequence[Line], removed: dict[int, str]) -> list[int]:
    texts = [" ".join(line.text.split()).lower() for line in lines]
    out: list[int] = []
    run: list[tuple[int, int]] = []

    def close() -> None:
        pages = [p for _, p in run]
        if len(run) >= 3 and pages == sorted(pages):
            out.extend(i for i, _ in run)
        run.clear()

    for i, line in enumerate(lines):
        if i in removed or not line.text.strip():
            continue
        m = _CONTENTS_LINE.match(" ".join(line.text.split()))
        title = m.group("title").lower() if m else ""
        if m and any(t == title or t.startswith(title + " ") for t in texts[i + 1 :] if t):
            run.append((i, int(m.group("page"))))
        else:
            close()
    close()
    return out


def _drop_toc(drafts: list[_Draft], dropped: dict[str, int]) -> list[_Draft]:
    """A paragraph made only of lines that repeat the document's own headings is a table of contents."""
    headings = {h for d in drafts for h in d.heading_path}
    kept: list[_Draft] = []
    for d in drafts:
        items = [_strip_bullet(x) for x in d.lines if x.strip()]
        items = [re.sub(r"^\d+\.?\s*", "", x) for x in items]
        if d.number is None and len(items) >= 3:
            hits = sum(1 for x in items if any(_similar(x, h) for h in headings))
            if hits >= max(3, int(0.6 * len(items))):
                _count(dropped, "table of contents")
                continue
        kept.append(d)
    return kept


def _merge_fragments(drafts: list[_Draft], min_chars: int, dropped: dict[str, int]) -> list[_Draft]:
    """Merge tiny unnumbered fragments into the previous paragraph of the same section (else the next)."""
    out: list[_Draft] = []
    pending: list[_Draft] = []
    for d in drafts:
        tiny = d.number is None and d.kind == "paragraph" and len(d.text) < min_chars
        if tiny:
            if out and out[-1].heading_path == d.heading_path:
                out[-1].lines.extend(d.lines)
                _count(dropped, "merged fragment")
            else:
                pending.append(d)
            continue
        if pending:
            same = [p for p in pending if p.heading_path == d.heading_path]
            for p in pending:
                if p in same:
                    continue
                if p.heading_path:
                    out.append(p)
                else:  # a scrap before the first heading: front-matter furniture
                    _count(dropped, "page furniture")
            if same:
                d.lines[:0] = [ln for p in same for ln in p.lines]
                if d.page is None:
                    d.page = same[0].page
                for _ in same:
                    _count(dropped, "merged fragment")
            pending = []
        out.append(d)
    for p in pending:
        if p.heading_path:
            out.append(p)
        else:  # a scrap before the first heading with nothing to join: front-matter furniture
            _count(dropped, "page furniture")
    return out


def _split_long(text: str, max_chars: int) -> list[str]:
    if len(text) <= max_chars:
        return [text]
    # Break at line ends first, then sentence ends, then spaces.
    pieces: list[str] = []
    for line in text.split("\n"):
        if len(line) <= max_chars:
            pieces.append(line)
            continue
        sentences = re.split(r"(?<=[.;:!?])\s+", line)
        for s in sentences:
            while len(s) > max_chars:
                cut = s.rfind(" ", 0, max_chars)
                cut = cut if cut > max_chars // 2 else max_chars
                pieces.append(s[:cut])
                s = s[cut:].strip()
            pieces.append(s)
    parts: list[str] = []
    current = ""
    for piece in pieces:
        sep = "\n" if current else ""
        if current and len(current) + len(sep) + len(piece) > max_chars:
            parts.append(current)
            current = piece
        else:
            current = f"{current}{sep}{piece}"
    if current:
        parts.append(current)
    return parts


def _finish(d: _Draft, style: Style, max_chars: int) -> list[Paragraph]:
    text = d.text
    ref_page: int | None = None
    refs: str | None = None
    number = d.number
    if style is Style.BRACKETED:
        found = WT_REF.findall(text)
        if found:
            ref_page = int(found[0][0])
            number = _norm_ref(found[0][1])
            refs = "; ".join(f"p{p}, {_norm_ref(n)}" for p, n in found)
    base = Paragraph(
        number=number,
        heading_path=d.heading_path,
        text=text,
        page=d.page,
        kind=d.kind,
        after=d.after,
        ref_page=ref_page,
        refs=refs,
    )
    # A Before/Now pair is one unit: it is never split, whatever its length.
    parts = [text] if d.kind == "comparison" else _split_long(text, max_chars)
    if len(parts) == 1:
        return [base]
    return [replace(base, text=t, part=i, parts=len(parts)) for i, t in enumerate(parts, 1)]


def _norm_ref(ref: str) -> str:
    ref = re.sub(r"\s*([.:])\s*", r"\1", ref.strip())
    ref = ref.replace(":", ".")
    return re.sub(r"\s*[-–]\s*", "-", ref)
