"""Finding the changes between two editions in the index: the curated changes with their citations, the
Before/Now pairs and change statements of change documents (each statement matched by meaning to the
closest older passage), what the older edition itself lists as new, and timescale differences from the
rules."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ingest.lexical import tokenize
from ingest.store import IndexLocation
from safeguide.compare.changes import (
    _EXPLICIT,
    CHANGE_DOC_KINDS,
    GENERIC_WORDS,
    Change,
    CitedSide,
    _changed_sentence,
    _items,
    classify,
    describe_edits,
    load_curated,
    one_line,
    split_pair,
    stable_id,
)
from safeguide.retrieval.citations import contains, find_passage_index, normalise
from safeguide.retrieval.hybrid import IndexReader
from safeguide.timescales.rules import RuleSet

PAIR_NOTE = "“Before” is the wording of the edition the briefing compares with, as the briefing quotes it."
ALIGN_MIN_COSINE = 0.6
ALIGN_SURE_COSINE = 0.72
ALIGNED_NOTE = (
    "The {edition} passage was matched by meaning and shared terms ({terms}), not cited by a document: "
    "read it before relying on it."
)


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


def _top(heading: str) -> str:
    return heading.split(" › ")[0]


def _rare_terms(reader: IndexReader) -> set[str]:
    counts: dict[str, int] = {}
    for t in reader.texts:
        for w in set(tokenize(t)):
            counts[w] = counts.get(w, 0) + 1
    limit = max(2, len(reader.texts) // 20)  # in at most one passage in twenty
    return {w for w, n in counts.items() if n <= limit and not w.isdigit()} - GENERIC_WORDS


@dataclass
class ChangeFinder:
    """Reads the changes between two editions out of the index, the curated file and the rules."""

    rules: RuleSet
    curated_file: Path
    editions: list[str]

    def curated(
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

    def change_docs(self, reader: IndexReader, editions: Iterable[str], authority: str) -> list[int]:
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

    def automatic(
        self, reader: IndexReader, editions: list[str], authority: str, absorbed: set[int]
    ) -> tuple[list[Change], list[Change]]:
        pairs: list[Change] = []
        statements: list[Change] = []
        for i in self.change_docs(reader, editions, authority):
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

    def earlier(self, reader: IndexReader, old: str, authority: str) -> list[Change]:
        """What the older edition's own change summaries call new in it: kept apart from the comparison."""
        out: list[Change] = []
        seen: set[str] = set()
        for i in self.change_docs(reader, [old], authority):
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

    def align(self, reader: IndexReader, statements: list[Change], old: str, authority: str) -> None:
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

    def timescales(
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
