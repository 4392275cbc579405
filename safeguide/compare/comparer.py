"""Edition comparison: what changed between two editions, point by point, each change cited.

Three sources of changes, in this order of trust:

1. curated: corpus/changes.toml, known structural changes with citations on both sides. They anchor
   the result, so the big changes are never missed however the automatic part does;
2. Before/Now pairs: a change document's quoted "Before" and "Now" wording, compared word by word;
3. change statements: each item of a change document of the newer edition ("a new section on ...",
   "X will be replaced by Y") becomes a change, with the closest passage of the older edition as its
   `before` when one is close enough in meaning and shares a key term.

Changes that the older edition's own summaries list as new in that edition ("new in 2010") are kept
apart, in `earlier`: they are not changes between the two editions compared. Timescale differences
come from the timescale rules, never from text. Summaries are quoted from the sources (extractive);
`summarise()` can rewrite them with a model, and keeps a rewrite only when both sources support it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ingest.lexical import tokenize
from safeguide.chat.prompts import load_prompt
from safeguide.compare.changes import (
    GENERIC_WORDS,
    SUMMARY_MAX_CHARS,
    Change,
    Comparison,
    one_line,
    topic_matches,
)
from safeguide.compare.finding import (
    PAIR_NOTE,
    ChangeFinder,
)
from safeguide.errors import InvalidQuery, SafeguideError
from safeguide.models import ChatModel
from safeguide.retrieval.citations import normalise
from safeguide.retrieval.hybrid import IndexReader
from safeguide.timescales.rules import RuleSet

# ----------------------------------------------------------------------------------------------- the comparer


@dataclass
class Comparer:
    """Builds comparisons from the open index, the curated changes and the timescale rules."""

    reader: Callable[[], IndexReader]
    rules: RuleSet
    curated_file: Path
    editions: list[str]
    model: ChatModel | None = None
    _cache: dict[tuple[str, ...], Comparison] = field(default_factory=dict)
    _summaries: dict[tuple[str, ...], Change | None] = field(default_factory=dict)

    @property
    def finder(self) -> ChangeFinder:
        return ChangeFinder(self.rules, self.curated_file, self.editions)

    def compare(
        self,
        from_edition: str,
        to_edition: str,
        topic: str | None = None,
        authority: str | None = None,
        summaries: Literal["source", "model"] = "source",
        topic_share: float = 1.0,
    ) -> Comparison:
        self._check(from_edition, to_edition)
        if topic is not None and len(topic) > 200:
            raise InvalidQuery("a topic is a few words (at most 200 characters)")
        if summaries == "model" and self.model is None:
            raise InvalidQuery("model summaries need a model: set SAFEGUIDE_LLM_BACKEND to local or openai")
        reader = self.reader()
        key = (reader.build.name, from_edition, to_edition, authority or "national")
        if key not in self._cache:
            if not any(k[0] == reader.build.name for k in self._cache):
                self._cache.clear()  # a new build starts afresh
                self._summaries.clear()
            self._cache[key] = self._build(reader, from_edition, to_edition, authority or "national")
        full = self._cache[key]
        if topic and topic.strip():
            full = full.model_copy(
                update={
                    "topic": topic.strip(),
                    "changes": [c for c in full.changes if topic_matches(c, topic, topic_share)],
                    "earlier": [c for c in full.earlier if topic_matches(c, topic, topic_share)],
                }
            )
        if summaries == "model":
            full = self.summarise(full)  # only the changes shown; each one's summary is written once
        return full

    def summarise(self, comparison: Comparison) -> Comparison:
        """The same comparison with model-written summaries where they pass the check, else the quoted ones.

        A model summary is kept only when every content word in it is in the passages the change cites
        (the check the tests apply to every change), so a summary never says more than its sources, and
        when at least half its words come from the quoted summary, so it is about the same change.
        Curated summaries are left as written; aligned `before` passages are not shown to the model.
        """
        assert self.model is not None
        started = time.perf_counter()
        changes: list[Change] = []
        kept = rejected = 0
        for ch in comparison.changes:
            if ch.origin == "curated" or ch.after is None:
                changes.append(ch)
                continue
            key = (self.reader().build.name, "summary", ch.id)
            if key not in self._summaries:
                self._summaries[key] = self._write_summary(ch, comparison.from_edition, comparison.to_edition)
            written = self._summaries[key]
            changes.append(written or ch)
            kept += written is not None
            rejected += written is None
        notes = [
            *comparison.notes,
            f"Summaries by {self.model.name}: {kept} kept, {rejected} replaced by quotations because they "
            f"used words their sources do not ({(time.perf_counter() - started):.0f} s).",
        ]
        return comparison.model_copy(update={"changes": changes, "notes": notes})

    def _write_summary(self, ch: Change, old: str, new: str) -> Change | None:
        """The change with a model-written summary, or None when the summary fails the checks."""
        assert self.model is not None and ch.after is not None
        shown = ch.before is not None and not ch.aligned
        before = ch.before.text if ch.before is not None and shown else "(not in the documents held)"
        prompt = load_prompt("compare_summary").render(
            old=old, new=new, before=one_line(before, 700), after=one_line(ch.after.text, 700)
        )
        try:
            reply = self.model.complete([{"role": "user", "content": prompt}], max_tokens=60)
        except SafeguideError:
            reply = ""
        line = one_line(reply.strip().splitlines()[0] if reply.strip() else "", SUMMARY_MAX_CHARS)
        written = ch.model_copy(update={"summary": line, "summary_by": "model"})
        # An aligned `before` was matched by meaning, not cited: it may not vouch for the summary ...
        judged = written.model_copy(update={"before": None}) if ch.aligned else written
        # ... and the summary must be about this change: half its words from the quoted summary, so a
        # true line about something else in the same passage is not kept.
        on_point = len(set(tokenize(line)) & set(tokenize(ch.summary))) * 2 >= len(set(tokenize(line)))
        if len(line.split()) >= 4 and judged.words_supported() == [] and on_point:
            return written
        return None

    def _check(self, from_edition: str, to_edition: str) -> None:
        for e in (from_edition, to_edition):
            if e not in self.editions:
                raise InvalidQuery(f"unknown edition {e!r}; editions are {', '.join(self.editions)}")
        if self.editions.index(from_edition) >= self.editions.index(to_edition):
            raise InvalidQuery(
                f"compare an older edition with a newer one ({from_edition} is not before {to_edition})"
            )

    # -------------------------------------------------------------------------------------------- build

    def _build(self, reader: IndexReader, old: str, new: str, authority: str) -> Comparison:
        started = time.perf_counter()
        notes: list[str] = []
        between = self.editions[self.editions.index(old) + 1 : self.editions.index(new) + 1]
        held = set(reader.editions)
        if new not in held:
            notes.append(f"The index holds no document of edition {new}: only curated changes can be shown.")
        if old not in held:
            notes.append(f"The index holds no document of edition {old}: changes have no “before” text.")

        curated, absorbed = self.finder.curated(reader, old, new, notes)
        pairs, statements = self.finder.automatic(reader, between, authority, absorbed)
        statements = _dedupe(statements, curated)
        self.finder.align(reader, statements, old, authority)  # only what is kept is embedded
        changes = curated + pairs + statements
        changes += self.finder.timescales(reader, old, new, authority, notes)
        earlier = self.finder.earlier(reader, old, authority)
        if len({c.note for c in changes if c.origin == "pair"}) == 1:
            notes.append(PAIR_NOTE)
        return Comparison(
            from_edition=old,
            to_edition=new,
            changes=changes,
            earlier=earlier,
            notes=notes,
            build=reader.build.name,
            took_ms=round((time.perf_counter() - started) * 1000, 1),
        )


def _dedupe(statements: list[Change], curated: list[Change]) -> list[Change]:
    """Drop statements that repeat another (a slide shown twice) or that a curated change already says:
    one reading the same passage whose summary holds at least half the statement's key words."""
    out: list[Change] = []
    seen: set[str] = set()
    for change in statements:
        key = normalise(change.summary)
        if key in seen:
            continue
        seen.add(key)
        mine = set(tokenize(change.summary)) - GENERIC_WORDS
        if any(
            a.after is not None
            and change.after is not None
            and a.after.chunk_id == change.after.chunk_id
            and len(mine & set(tokenize(a.summary))) * 2 >= len(mine)
            for a in curated
        ):
            continue
        out.append(change)
    return out
