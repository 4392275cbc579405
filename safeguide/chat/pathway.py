"""'What do I do next?': the child-protection process as data, and a question placed on it (issue 13).

`corpus/pathway.toml` lists the steps (what, who, the event that times it, what follows, the paragraphs
that say so). A question is placed on the step it is closest to in meaning: the packaged MiniLM
embedding of the question against each step's description and the text of its cited paragraphs (the
better of the two counts). The answer is that step and the steps after it, in order, each with who does
it, its timescale from the rules that apply in the user's area (a real date where the question gives
the date it counts from, or from today when it counts from the step being taken now), and the paragraph
that says so. Dates come only from the timescales module.
"""

from __future__ import annotations

import re
import threading
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from safeguide.errors import CorpusError

# Questions that ask what to do: "what do I do next", "what should happen now", "who do I tell".
ASKS_NEXT = re.compile(
    r"\b(?:what\s+(?:do|should|must|can|shall)\s+(?:i|we)\s+do"
    r"|what\s+(?:do|should|must)\s+(?:i|we)\s+(?:tell|say)\b"
    r"|what\s+(?:happens|comes|should\s+happen|now)\b(?:\s+(?:next|now|after|afterwards))?"
    r"|what(?:'s|\s+is|\s+are)\s+(?:the\s+|my\s+|our\s+)?next\s+steps?"
    r"|next\s+steps?|what\s+now\b|what\s+next\b"
    r"|what\s+(?:steps|action|actions)\s+(?:do|should|must|can)\s+(?:i|we)\s+take"
    r"|who\s+(?:do|should|must)\s+(?:i|we)\s+(?:tell|ring|call|report|contact|inform|talk\s+to)"
    r"|who\s+(?:must|should)\s+i\s+tell"
    r"|what\s+(?:are|is)\s+my\s+(?:responsibilit|dut|option)"
    r"|do\s+(?:i|we)\s+need\s+to|should\s+(?:i|we)\s+(?:refer|tell|report|call)"
    r"|what\s+(?:do|does)\s+(?:i|we)\s+(?:have|need)\s+to\s+(?:do|decide)"
    r"|what\s+should\s+(?:i|we)\s+be\s+doing"
    r"|what\s+(?:checks|must|has\s+to\s+happen))",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Step:
    id: str
    name: str
    who: str
    describes: str
    cites: tuple[tuple[str, str], ...]
    next: tuple[str, ...] = ()
    event: str = ""
    authority: str = "national"
    requires: tuple[str, ...] = ()

    def considered_for(self, question: str) -> bool:
        """A step that needs the case to have got somewhere is considered only when the question says so."""
        q = " ".join(question.lower().replace("’", "'").split())
        return not self.requires or any(re.search(rf"\b{re.escape(w)}(?:s|es)?\b", q) for w in self.requires)


@dataclass
class Pathway:
    steps: dict[str, Step]
    path: Path | None = None

    @classmethod
    def load(cls, path: Path) -> Pathway:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
            steps = [
                Step(
                    id=s["id"],
                    name=s["name"],
                    who=s["who"],
                    describes=s["describes"],
                    cites=tuple((str(d), str(p)) for d, p in s.get("cites", [])),
                    next=tuple(s.get("next", [])),
                    event=s.get("event", ""),
                    authority=s.get("authority", "national").lower(),
                    requires=tuple(str(w).lower() for w in s.get("requires", [])),
                )
                for s in raw.get("step", [])
            ]
        except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
            raise CorpusError(f"pathway file {path}: {exc}") from exc
        by_id = {s.id: s for s in steps}
        unknown = sorted({n for s in steps for n in s.next if n not in by_id})
        if unknown:
            raise CorpusError(f"pathway file {path}: 'next' names unknown steps {unknown}")
        return cls(by_id, path)

    def for_area(self, authority: str | None) -> list[Step]:
        area = (authority or "national").lower()
        return [s for s in self.steps.values() if s.authority in ("national", area)]

    def leading_to(self, step: Step) -> list[Step]:
        """The steps whose `next` names this one, in the file's order."""
        return [s for s in self.steps.values() if step.id in s.next]

    def following(self, first: Step, authority: str | None, limit: int = 4) -> list[Step]:
        """The step and those after it, breadth first, each once."""
        allowed = {s.id for s in self.for_area(authority)}
        out: list[Step] = []
        queue = [first.id]
        while queue and len(out) < limit:
            sid = queue.pop(0)
            if sid in allowed and all(s.id != sid for s in out):
                out.append(self.steps[sid])
                queue.extend(self.steps[sid].next)
        return out


@dataclass
class Placement:
    step: Step
    score: float
    scores: dict[str, float] = field(default_factory=dict)


class Navigator:
    """Places questions on the pathway by meaning; the anchors are embedded once, on first use."""

    def __init__(self, pathway: Pathway, embedder: Any, passage_text: Any, doc_edition: Any = None) -> None:
        self.pathway = pathway
        self.embedder = embedder
        self.passage_text = passage_text  # (doc_id, paragraph or heading) -> text or None
        self.doc_edition = doc_edition  # doc_id -> the edition its manifest gives, or None if not held
        self._anchors: dict[str, tuple[np.ndarray, list[str | None]]] | None = None
        self._lock = threading.Lock()

    def _build(self) -> dict[str, tuple[np.ndarray, list[str | None]]]:
        """Each step's anchor vectors, with the document each comes from (None: the step's description)."""
        texts: list[str] = []
        owners: list[tuple[str, str | None]] = []
        for step in self.pathway.steps.values():
            texts.append(f"{step.name}. {step.describes}")
            owners.append((step.id, None))
            for doc, ref in step.cites:
                text = self.passage_text(doc, ref)
                if text:
                    texts.append(" ".join(text.split())[:1000])
                    owners.append((step.id, doc))
        vectors = np.asarray(self.embedder.embed_documents(texts), dtype=np.float32)
        anchors: dict[str, tuple[list[np.ndarray], list[str | None]]] = {}
        for (owner, source), vector in zip(owners, vectors, strict=True):
            held = anchors.setdefault(owner, ([], []))
            held[0].append(vector)
            held[1].append(source)
        return {k: (np.stack(v), docs) for k, (v, docs) in anchors.items()}

    def _of(self, doc: str, edition: str | None) -> bool:
        """Whether a document counts for the edition named (every document does when none is)."""
        return not edition or self.doc_edition is None or self.doc_edition(doc) == edition

    def cites_in(self, step: Step, edition: str | None) -> list[tuple[str, str]]:
        """The step's paragraphs, only those of documents of the edition named when one is."""
        return [(doc, ref) for doc, ref in step.cites if self._of(doc, edition)]

    def place(self, question: str, authority: str | None, edition: str | None = None) -> Placement | None:
        """The step closest in meaning. With an edition named ("under WT 2010"), a step is placed by its
        description and its paragraphs of that edition only, and a step with none of them is not
        considered: it could only be answered from another edition's guidance."""
        with self._lock:
            if self._anchors is None:
                self._anchors = self._build()
            anchors = self._anchors
        q = np.asarray(self.embedder.embed_query(question), dtype=np.float32)
        scores: dict[str, float] = {}
        for s in self.pathway.for_area(authority):
            if s.id not in anchors or not s.considered_for(question):
                continue
            vectors, docs = anchors[s.id]
            if edition:
                keep = [i for i, d in enumerate(docs) if d is None or self._of(d, edition)]
                if len(keep) == docs.count(None):
                    continue  # no paragraph of this step is of the edition asked about
                vectors = vectors[keep]
            scores[s.id] = float(np.max(vectors @ q))
        if not scores:
            return None
        best = max(scores, key=lambda k: scores[k])
        return Placement(self.pathway.steps[best], scores[best], scores)
