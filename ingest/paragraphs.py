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
parts that keep the paragraph's number.
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
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


def _count(dropped: dict[str, int], reason: str) -> bool:
    dropped[reason] = dropped.get(reason, 0) + 1
    return False


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


# --------------------------------------------------------------------------------------------------
# Style: hierarchical numbers (S2 and full statutory texts)


def _next_nonblank(lines: Sequence[Line], i: int) -> int | None:
    j = i + 1
    while j < len(lines) and not lines[j].text.strip():
        j += 1
    return j if j < len(lines) else None


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
