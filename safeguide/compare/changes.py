"""What a change between editions is (``Change``, its cited sides, a ``Comparison``), the curated changes
file, and reading change documents: items, kinds of change, word-level edits, topics."""

from __future__ import annotations

import difflib
import hashlib
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, model_validator

from ingest.lexical import tokenize
from safeguide.errors import CorpusError
from safeguide.retrieval.citations import normalise
from safeguide.timescales.rules import RuleCitation

Kind = Literal["new", "removed", "changed", "replaced", "renamed"]
KINDS: tuple[str, ...] = ("new", "removed", "changed", "replaced", "renamed")
CHANGE_DOC_KINDS = frozenset({"briefing", "summary of changes"})
# Words a summary may use that say *how* something changed rather than *what*; every other content
# word of a summary must be in the text it cites (tests/test_compare.py checks this for every change).
CHANGE_WORDS = frozenset(
    tokenize(
        "replaced replaces now no longer new removed added becomes become renamed named changed "
        "was were is are dropped before"
    )
)
_REPLACED = re.compile(r"\breplac(?:e|es|ed|ing)\b", re.IGNORECASE)
_NEW = re.compile(r"\bnew\b|\badditional\b|\badded\b", re.IGNORECASE)
_CHANGED = re.compile(
    r"\b(?:specifies|highlights|sets out|must|should|will|responsible|requirement|duty|duties|expected|"
    r"extended|revised|updated|greater|clarif\w+|expanded|strengthen\w*|now|need to|responsib\w+|"
    r"are those|is defined|means)\b",
    re.IGNORECASE,
)
_EXPLICIT = re.compile(
    r"\b(?:new|replac\w+|additional|added|extended|revised|updated|greater|clarif\w+|expanded|widened|"
    r"strengthen\w*|increased|emphasis|now|no longer)\b",
    re.IGNORECASE,
)
_BULLET = re.compile(r"(?:^|\s)-?\s*▶\s*|\n-\s+")
_PAIR = re.compile(r"^Before:\s*(?P<before>.+?)\s*Now:\s*(?P<now>.+)$", re.DOTALL)
_QUOTES = "“”\"'‘’"
GENERIC_WORDS = frozenset(
    tokenize(
        "child children young people person social care worker work safeguarding welfare protection "
        "guidance procedure staff practitioner should must local new"
    )
)
SUMMARY_MAX_CHARS = 220


class CitedSide(BaseModel):
    """One side of a change: the passage it rests on, as the API shows it."""

    doc_id: str
    paragraph: str | None
    heading: str
    citation: str
    edition: str
    text: str
    chunk_id: str


class Change(BaseModel):
    id: str
    topic: str
    kind: Kind
    summary: str
    before: CitedSide | None
    after: CitedSide | None
    origin: Literal["curated", "pair", "statement", "timescales"] = "statement"
    note: str = ""
    aligned: bool = False  # `before` was matched by meaning, not cited by a document
    summary_by: Literal["curated", "source", "model"] = "source"

    def words_supported(self) -> list[str]:
        """Content words of the summary that neither cited text contains (empty when all are)."""
        cited = set()
        for side in (self.before, self.after):
            if side is not None:
                cited |= set(tokenize(side.text))
        return sorted(set(tokenize(self.summary)) - cited - CHANGE_WORDS)


class Comparison(BaseModel):
    from_edition: str = Field(serialization_alias="from")
    to_edition: str = Field(serialization_alias="to")
    topic: str | None = None
    changes: list[Change]
    earlier: list[Change] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    build: str = ""
    took_ms: float = 0.0

    def public(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True)


# ------------------------------------------------------------------------------------------------ curated


class CuratedSide(RuleCitation):
    """Where one side of a curated change stands: a citation as the timescale rules write one, plus
    which half of a Before/Now pair it takes."""

    part: Literal["before", "now"] | None = None


class CuratedChange(BaseModel):
    id: str
    from_edition: str = Field(alias="from")
    to_edition: str = Field(alias="to")
    topic: str
    kind: Kind
    summary: str
    before: CuratedSide | None = None
    after: CuratedSide | None = None
    absorbs: bool = True

    @model_validator(mode="after")
    def _has_a_side(self) -> CuratedChange:
        if self.before is None and self.after is None:
            raise ValueError("a change needs a before or an after source")
        return self


def load_curated(path: Path) -> list[CuratedChange]:
    """The curated changes file; a missing file is an empty list, a broken one an error naming it."""
    if not path.exists():
        return []
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        changes = [CuratedChange.model_validate(c) for c in raw.get("change", [])]
    except (tomllib.TOMLDecodeError, ValidationError) as exc:
        raise CorpusError(f"changes file {path}: {exc}") from exc
    seen: set[str] = set()
    for c in changes:
        if c.id in seen:
            raise CorpusError(f"changes file {path}: the id {c.id!r} is used twice")
        seen.add(c.id)
    return changes


# ------------------------------------------------------------------------------------------------ helpers


def split_pair(text: str) -> tuple[str, str] | None:
    """A Before/Now passage as its two quoted halves, or None when it is not one."""
    m = _PAIR.match(text.strip())
    if not m:
        return None
    return m.group("before").strip().strip(_QUOTES), m.group("now").strip().strip(_QUOTES)


def one_line(text: str, limit: int = SUMMARY_MAX_CHARS) -> str:
    """One line, at most `limit` characters, cut at a word, with its curly quotes balanced (an open
    quote would swallow the next line when the text is split into sentences)."""
    text = re.sub(r"\s+", " ", text.replace("▶", " ")).strip().strip(" -").strip()
    if text[:1] == "“" and text[-1:] == "”" and text.count("“") == 1:
        text = text[1:-1].strip()  # a wholly quoted line
    elif text[:1] in _QUOTES and text.count(text[0]) == 1:
        text = text[1:].strip()  # a stray quote left at the start of a bullet
    cut = text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0].rstrip(",;:")
    if cut.count("“") > cut.count("”"):
        cut += "”"
    return cut if cut == text else cut + (" …" if len(text) > limit else "")


def stable_id(*parts: str) -> str:
    return hashlib.sha1("\x00".join(parts).encode()).hexdigest()[:10]


def _items(text: str) -> list[str]:
    """A passage's statements: its bullet items, with a lead-in ("... for a child who:") keeping the
    items that complete it (lower-case continuations, or short items that state no change of their own).
    """
    parts = [p.strip() for p in _BULLET.split(text) if p and p.strip()] or [text.strip()]
    groups: list[list[str]] = []
    for part in parts:
        lead = groups[-1] if groups else None
        if (
            lead is not None
            and lead[0].endswith(":")
            and (part[:1].islower() or (len(part.split()) < 8 and classify(part) is None))
        ):
            lead.append(part.rstrip(";"))
        else:
            groups.append([part])
    return [g[0] if len(g) == 1 else f"{g[0]} {'; '.join(g[1:])}" for g in groups]


def classify(item: str) -> Kind | None:
    """What kind of change a statement in a change document describes; None when it states none."""
    if _REPLACED.search(item):
        return "replaced"
    if _NEW.search(item):
        return "new"
    if _CHANGED.search(item):
        return "changed"
    return None


def describe_edits(before: str, now: str, limit: int = 3) -> list[str]:
    """Word-level edits from `before` to `now`: removed “…”, added “…”, “a” → “b”."""
    a, b = before.split(), now.split()
    out: list[str] = []
    matcher = difflib.SequenceMatcher(a=[w.lower() for w in a], b=[w.lower() for w in b], autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        old = " ".join(a[i1:i2]).strip(".,;:" + _QUOTES)
        new = " ".join(b[j1:j2]).strip(".,;:" + _QUOTES)
        if op == "delete" and old:
            out.append(f"removed “{old}”")
        elif op == "insert" and new:
            out.append(f"added “{new}”")
        elif op == "replace" and (old or new):
            out.append(f"“{old}” → “{new}”")
    # Spelling-only edits ("judgements" → "judgments") say nothing to a manager; list them last.
    out.sort(key=lambda e: _spelling_only(e))
    return out[:limit] + (["…"] if len(out) > limit else [])


def _spelling_only(edit: str) -> bool:
    m = re.match(r"“(.+)” → “(.+)”$", edit)
    return m is not None and difflib.SequenceMatcher(a=m.group(1), b=m.group(2)).ratio() > 0.8


def _changed_sentence(before: str, now: str) -> str:
    """The first sentence of `now` whose wording differs from `before`."""
    from safeguide.chat.verify import split_sentences

    old = {normalise(s) for s in split_sentences(before)}
    for s in split_sentences(now):
        if normalise(s) not in old:
            return s
    return now


def topic_matches(change: Change, topic: str, share: float = 1.0) -> bool:
    """The words of the topic ("child deaths", "conferences") are in the change or the texts it cites:
    all of them, or `share` of them for a topic lifted from a chat question ("who attends a strategy
    discussion": "attends" need not be there)."""
    wanted = set(tokenize(topic)) - GENERIC_WORDS - {"change", "chang", "changed", "between", "edition"}
    if not wanted:
        return True
    have = set(tokenize(f"{change.topic} {change.summary}"))
    for side in (None if change.aligned else change.before, change.after):
        if side is not None:
            have |= set(tokenize(f"{side.heading} {side.text}"))
    return len(wanted & have) >= max(1.0, share * len(wanted))
