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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ingest.store import IndexLocation
from safeguide.chat.prompts import load_prompt
from safeguide.compare.changes import (
    _EXPLICIT,
    CHANGE_DOC_KINDS,
    GENERIC_WORDS,
    SUMMARY_MAX_CHARS,
    Change,
    CitedSide,
    Comparison,
    _changed_sentence,
    _items,
    classify,
    describe_edits,
    load_curated,
    one_line,
    split_pair,
    stable_id,
    topic_matches,
)
from safeguide.errors import InvalidQuery, SafeguideError
from safeguide.models import ChatModel
from safeguide.retrieval.citations import contains, find_passage_index, normalise
from safeguide.retrieval.hybrid import IndexReader, tokenize
from safeguide.timescales.rules import RuleSet

ALIGN_MIN_COSINE = 0.6
ALIGN_SURE_COSINE = 0.72
ALIGNED_NOTE = (
    "The {edition} passage was matched by meaning and shared terms ({terms}), not cited by a document: "
    "read it before relying on it."
)
PAIR_NOTE = "“Before” is the wording of the edition the briefing compares with, as the briefing quotes it."


def _side(reader: IndexReader, i: int, text: str | None = None, part: str | None = None) -> CitedSide:
    m = reader.metas[i]
    label = m["citation"] + (f" ({'Before' if part == 'before' else 'Now'})" if part else "")
    return CitedSide(
        doc_id=m["doc_id"],
        paragraph=m["paragraph"] or None,
        heading=m["heading"],
        citation=label,
        edition=m["edition"],
        text=reader.texts[i] if text is None else text,
        chunk_id=reader.ids[i],
    )


def _topic_of(heading: str) -> str:
    return heading.split(" › ")[-1] if heading else ""


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

        curated, absorbed = self._curated(reader, old, new, notes)
        pairs, statements = self._automatic(reader, between, authority, absorbed)
        statements = _dedupe(statements, curated)
        self._align(reader, statements, old, authority)  # only what is kept is embedded
        changes = curated + pairs + statements
        changes += self._timescales(reader, old, new, authority, notes)
        earlier = self._earlier(reader, old, authority)
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

    def _curated(
        self, reader: IndexReader, old: str, new: str, notes: list[str]
    ) -> tuple[list[Change], set[int]]:
        out: list[Change] = []
        absorbed: set[int] = set()
        for c in load_curated(self.curated_file):
            if (c.from_edition, c.to_edition) != (old, new):
                continue
            sides: list[CitedSide | None] = []
            missing = False
            for want in (c.before, c.after):
                if want is None:
                    sides.append(None)
                    continue
                i = find_passage_index(
                    reader.metas, reader.texts, want.doc_id, want.paragraph, want.heading, want.evidence
                )
                text = None if i is None else reader.texts[i]
                if text is not None and want.part is not None:
                    pair = split_pair(text)
                    text = None if pair is None else pair[0 if want.part == "before" else 1]
                if i is None or text is None or not contains(text, want.evidence):
                    missing = True
                    break
                sides.append(_side(reader, i, text, want.part))
                if c.absorbs:
                    absorbed.add(i)
            if missing:
                notes.append(
                    f"The curated change {c.id!r} cites a passage the index does not hold; left out."
                )
                continue
            out.append(
                Change(
                    id=c.id,
                    topic=c.topic,
                    kind=c.kind,
                    summary=c.summary,
                    before=sides[0],
                    after=sides[1],
                    origin="curated",
                    summary_by="curated",
                    note=PAIR_NOTE if any(w is not None and w.part for w in (c.before, c.after)) else "",
                )
            )
        return out, absorbed

    def _change_docs(self, reader: IndexReader, editions: Iterable[str], authority: str) -> list[int]:
        """Passages of the documents that describe changes (briefings, summaries of changes)."""
        wanted = set(editions)
        state = IndexLocation(reader.build.parent.parent).read_state(reader.build)
        kinds = {doc_id: str(s.manifest.get("kind", "")) for doc_id, s in state.items()}
        chosen = [
            i
            for i, m in enumerate(reader.metas)
            if m["edition"] in wanted
            and m["authority"] == authority
            and kinds.get(m["doc_id"]) in CHANGE_DOC_KINDS
        ]
        chosen.sort(key=lambda i: (reader.metas[i]["doc_id"], int(reader.metas[i].get("ordinal", 0))))
        # A document's opening heading holds its title page (what it is, when it commences), not
        # statements of change.
        opening: dict[str, str] = {}
        for i in chosen:
            opening.setdefault(reader.metas[i]["doc_id"], _top(reader.metas[i]["heading"]))
        return [i for i in chosen if _top(reader.metas[i]["heading"]) != opening[reader.metas[i]["doc_id"]]]

    def _automatic(
        self, reader: IndexReader, editions: list[str], authority: str, absorbed: set[int]
    ) -> tuple[list[Change], list[Change]]:
        pairs: list[Change] = []
        statements: list[Change] = []
        for i in self._change_docs(reader, editions, authority):
            text = reader.texts[i]
            meta = reader.metas[i]
            pair = split_pair(text) if meta.get("kind") == "comparison" else None
            if pair is not None and i in absorbed:
                continue  # a curated change already reads this Before/Now pair
            if pair is not None:
                before, now = pair
                edits = describe_edits(before, now)
                if not edits:
                    continue
                sentence = one_line(_changed_sentence(before, now), 160)
                pairs.append(
                    Change(
                        id="pair-" + stable_id(reader.ids[i]),
                        topic=_topic_of(meta["heading"]),
                        kind="removed" if all(e.startswith("removed") for e in edits) else "changed",
                        summary=f"{sentence} ({'; '.join(edits)})",
                        before=_side(reader, i, before, "before"),
                        after=_side(reader, i, now, "now"),
                        origin="pair",
                        note=PAIR_NOTE,
                    )
                )
                continue
            for item in _items(text):
                kind = classify(item)
                if kind is None or len(item.split()) < 5:
                    continue
                change = Change(
                    id="stmt-" + stable_id(reader.ids[i], normalise(item)),
                    topic=_topic_of(meta["heading"]),
                    kind=kind,
                    summary=one_line(item),
                    before=None,
                    after=_side(reader, i),
                    origin="statement",
                )
                statements.append(change)
        return pairs, statements

    def _earlier(self, reader: IndexReader, old: str, authority: str) -> list[Change]:
        """What the older edition's own change summaries call new in it: kept apart from the comparison."""
        out: list[Change] = []
        seen: set[str] = set()
        for i in self._change_docs(reader, [old], authority):
            for item in _items(reader.texts[i]):
                kind = classify(item) if _EXPLICIT.search(item) else None
                key = normalise(item)
                if kind is None or len(item.split()) < 5 or key in seen:
                    continue
                seen.add(key)
                out.append(
                    Change(
                        id="earlier-" + stable_id(reader.ids[i], key),
                        topic=_topic_of(reader.metas[i]["heading"]),
                        kind="new" if kind == "new" else "changed",
                        summary=one_line(item),
                        before=None,
                        after=_side(reader, i),
                        origin="statement",
                        note=f"Listed as new in edition {old} by its own summary of changes.",
                    )
                )
        return out

    def _align(self, reader: IndexReader, statements: list[Change], old: str, authority: str) -> None:
        """Give each statement the older edition's closest passage as `before`, when one is close enough.

        Close enough: cosine ≥ ALIGN_MIN_COSINE between the statement and the passage, and at least one
        shared key term (a word that is not generic and is rarer than one passage in twenty).
        """
        candidates = [
            i for i, m in enumerate(reader.metas) if m["edition"] == old and m["authority"] == authority
        ]
        if not statements or not candidates:
            return
        got = reader.collection.get(ids=[reader.ids[i] for i in candidates], include=["embeddings"])
        by_id = dict(zip(got["ids"], got["embeddings"], strict=True))
        matrix = np.asarray([by_id[reader.ids[i]] for i in candidates], dtype=np.float32)
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True) + 1e-9
        queries = reader.embedder.embed_documents([c.summary for c in statements])
        queries = queries / (np.linalg.norm(queries, axis=1, keepdims=True) + 1e-9)
        rare = _rare_terms(reader)
        for change, q in zip(statements, queries, strict=True):
            scores = matrix @ q
            terms = set(tokenize(change.summary)) & rare
            for j in np.argsort(-scores)[:5]:
                score = float(scores[j])
                if score < ALIGN_MIN_COSINE:
                    break
                i = candidates[int(j)]
                shared = terms & set(tokenize(f"{reader.metas[i]['heading']} {reader.texts[i]}"))
                if len(shared) >= 2 or (shared and score >= ALIGN_SURE_COSINE):
                    change.before = _side(reader, i)
                    change.aligned = True
                    change.note = ALIGNED_NOTE.format(edition=old, terms=", ".join(sorted(shared)))
                    break

    def _timescales(
        self, reader: IndexReader, old: str, new: str, authority: str, notes: list[str]
    ) -> list[Change]:
        """Differences between the rules of the two editions for the same event, from the rules file."""
        by_event: dict[str, dict[str, Any]] = {}
        for rule in self.rules.rules.values():
            if rule.authority != authority:
                continue
            for e in (old, new):
                if e in rule.editions:
                    by_event.setdefault(rule.event, {}).setdefault(e, rule)
        if not any(new in v for v in by_event.values()):
            notes.append(
                f"The timescale rules hold no {authority} timescale for edition {new}, so no timescale "
                "differences can be shown."
            )
            return []
        out: list[Change] = []
        for event, got in sorted(by_event.items()):
            if old not in got or new not in got:
                continue
            a, b = got[old], got[new]
            if (a.amount, a.unit) == (b.amount, b.unit):
                continue
            sides = []
            for rule in (a, b):
                c = rule.citation
                i = find_passage_index(
                    reader.metas, reader.texts, c.doc_id, c.paragraph, c.heading, c.evidence
                )
                sides.append(None if i is None else _side(reader, i))
            out.append(
                Change(
                    id=f"timescale-{event}",
                    topic="Timescales",
                    kind="changed",
                    summary=f"{b.name}: {a.duration_text()} in {old}, {b.duration_text()} in {new}",
                    before=sides[0],
                    after=sides[1],
                    origin="timescales",
                    note=f"From the timescale rules {a.id} and {b.id}.",
                )
            )
        return out


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


def _top(heading: str) -> str:
    return heading.split(" › ")[0]


def _rare_terms(reader: IndexReader) -> set[str]:
    counts: dict[str, int] = {}
    for t in reader.texts:
        for w in set(tokenize(t)):
            counts[w] = counts.get(w, 0) + 1
    limit = max(2, len(reader.texts) // 20)  # in at most one passage in twenty
    return {w for w, n in counts.items() if n <= limit and not w.isdigit()} - GENERIC_WORDS
