"""Hybrid retrieval: dense (Chroma) + lexical (BM25 over the same chunks), fused by reciprocal rank.

The reader opens the build named by CURRENT and notices when an ingest switches to a new one.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict

from ingest.embedder import Embedder
from ingest.lexical import build_lexical, load_lexical, read_collection, tokenize
from ingest.store import IndexLocation, open_collection
from safeguide.errors import InvalidQuery, StoreUnavailable
from safeguide.retrieval.glossary import Expansion, Glossary
from safeguide.retrieval.tuning import TUNED_DIR, TunedVectors, load_tuned
from safeguide.wordlists import A_PLACE, ON_ITS_OWN

log = logging.getLogger(__name__)
_SECOND_READER = ThreadPoolExecutor(max_workers=2, thread_name_prefix="tuned-query")

RRF_K = 60
EXPANSION_WEIGHT = 0.5  # lexical weight of glossary words against the question's own
# The tuned embedder (tuning.py) reorders the TUNED_TOP passages the fusion ranks first: each gains
# TUNED_WEIGHT / (RRF_K + rank) for its rank in the tuned model's TUNED_DEPTH nearest of the fused
# candidates. Chosen on the golden questions (weights 1 to 3, top 3 or 5).
TUNED_WEIGHT = 1.5
TUNED_TOP = 5
TUNED_DEPTH = 30


class PassageOut(BaseModel):
    """A search result as the API and the CLI's --json show it. Field names are a contract."""

    model_config = ConfigDict(frozen=True)

    doc_id: str
    title: str
    edition: str
    authority: str
    paragraph: str | None
    page: int | None
    heading: str
    citation: str
    text: str
    score: float


class SearchResult(PassageOut):
    """A passage plus what retrieval knows of it: its chunk id and its rank in each ranking."""

    chunk_id: str
    dense_rank: int | None = None
    lexical_rank: int | None = None

    def public(self) -> dict[str, Any]:
        out = self.model_dump(include=set(PassageOut.model_fields))
        out["score"] = round(self.score, 6)
        return out


class Reranker(Protocol):
    def rerank(self, query: str, results: list[SearchResult]) -> list[SearchResult]: ...


class KeepOrder:
    """No reranker ships on PyPI for offline use; this keeps the fused order."""

    def rerank(self, query: str, results: list[SearchResult]) -> list[SearchResult]:
        return results


@dataclass(frozen=True)
class Filters:
    edition: str | None = None
    authority: str | None = None
    doc_id: str | None = None

    def matches(self, meta: dict[str, Any]) -> bool:
        return (
            (self.edition is None or meta["edition"] == self.edition)
            and (self.authority is None or meta["authority"] == self.authority)
            and (self.doc_id is None or meta["doc_id"] == self.doc_id)
        )

    def where(self) -> dict[str, Any] | None:
        clauses = [
            {key: value}
            for key, value in (
                ("edition", self.edition),
                ("authority", self.authority),
                ("doc_id", self.doc_id),
            )
            if value is not None
        ]
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}


_WORD = re.compile(r"[A-Za-z0-9][\w'’-]*")


def lower_case_phrases(text: str) -> set[tuple[str, str]]:
    """Adjacent words of `text` written in lower case with only space between them ("foster carers", not
    "carers, who" nor "the Core")."""
    out: set[tuple[str, str]] = set()
    previous: re.Match[str] | None = None
    for m in _WORD.finditer(text):
        if (
            previous is not None
            and previous.group()[0].islower()
            and m.group()[0].islower()
            and text[previous.end() : m.start()].isspace()
        ):
            out.add((previous.group(), m.group()))
        previous = m
    return out


# Used at least this often in lower case, and capitalised mid-sentence at most this share of that.
_COMMON_USES, _CAPITALISED_SHARE = 20, 0.1


def common_lower_case_words(texts: Iterable[str]) -> set[str]:
    """Words the texts write in lower case often and almost never capitalise except to begin a sentence
    or a line: the documents' ordinary words. A name the documents mention is capitalised, so it is never
    among them ("Victoria", "Hope")."""
    lower: Counter[str] = Counter()
    capital: Counter[str] = Counter()
    for text in texts:
        last = ""  # the last character before the word that is not a space (none at the start)
        end = 0
        for m in _WORD.finditer(text):
            word = m.group()
            gap = text[end : m.start()].rstrip()
            last = gap[-1] if gap else (text[end - 1] if end else "")
            end = m.end()
            if word[0].islower():
                lower[word] += 1
            elif last and last not in ".!?:;•)\n" and not word.isupper():
                capital[word.lower()] += 1
    return {w for w, n in lower.items() if n >= _COMMON_USES and capital[w] <= _CAPITALISED_SHARE * n}


class IndexReader:
    """One opened build: its Chroma collection and a BM25 index over the same chunks."""

    def __init__(
        self, build: Path, embedder: Embedder, glossary: Glossary | None = None, chroma_url: str = ""
    ) -> None:
        self.build = build
        self.embedder = embedder
        self.chroma_url = chroma_url
        # The glossary, plus the terms this build's documents define (read at ingest).
        states = IndexLocation.read_state(build).values()
        self.glossary = (
            glossary.with_terms((a, b) for state in states for a, b in state.terms) if glossary else None
        )
        self.collection = open_collection(build, embedder, chroma_url, create=False)
        with self._served():
            self.ids, self.texts, self.metas = read_collection(self.collection)
        stored = load_lexical(build)
        if stored is not None and sorted(stored[0]) == sorted(self.ids):
            # Rows in the stored index's order, so BM25's document k is row k.
            order = {cid: i for i, cid in enumerate(self.ids)}
            rows = [order[cid] for cid in stored[0]]
            self.ids = stored[0]
            self.texts = [self.texts[i] for i in rows]
            self.metas = [self.metas[i] for i in rows]
            self._bm25 = stored[1]
            self.lexical_source = "stored"
        else:  # a build from before the index was kept with it
            self._bm25 = build_lexical(self.ids, self.texts, self.metas)
            self.lexical_source = "rebuilt"
        self.position: dict[str, int] = {cid: i for i, cid in enumerate(self.ids)}  # chunk id -> row
        self.editions = sorted({m["edition"] for m in self.metas})
        self.authorities = sorted({m["authority"] for m in self.metas})
        self.doc_ids = sorted({m["doc_id"] for m in self.metas})
        self.doc_editions: dict[str, str] = {m["doc_id"]: m["edition"] for m in self.metas}
        self.doc_authorities: dict[str, str] = {m["doc_id"]: m["authority"] for m in self.metas}
        self._tuned: TunedVectors | None = None
        self._tuned_failed = False
        self._tuned_lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.ids)

    def expansions(self, query: str) -> list[Expansion]:
        """The glossary groups the question uses (none without a glossary)."""
        return self.glossary.expand(query) if self.glossary is not None else []

    @cached_property
    def _by_place(self) -> dict[tuple[str, int], list[int]]:
        """(document, ordinal) -> its rows (a long paragraph's parts share its ordinal)."""
        out: dict[tuple[str, int], list[int]] = {}
        for i, m in enumerate(self.metas):
            out.setdefault((m["doc_id"], int(m.get("ordinal", -1))), []).append(i)
        return out

    def neighbours(self, chunk_id: str, span: int = 1) -> list[int]:
        """Rows of the paragraphs just before and after a passage, under the same heading, nearest
        first: guidance says one thing over a run of paragraphs, and a search often finds its neighbour."""
        i = self.position.get(chunk_id)
        if i is None:
            return []
        m = self.metas[i]
        ordinal = int(m.get("ordinal", -1))
        out = []
        for step in range(1, span + 1):
            for at in (ordinal + step, ordinal - step):
                out += [
                    j
                    for j in self._by_place.get((m["doc_id"], at), [])
                    if self.metas[j]["heading"] == m["heading"]
                ]
        return out

    def tuned(self) -> TunedVectors | None:
        """This build's tuned embedder and vectors, once they are there: they are made after the build
        is switched to (minutes of training), so a search before then keeps the hybrid order. A folder
        that cannot be read is logged once and left alone."""
        if self._tuned is not None or self._tuned_failed:
            return self._tuned
        folder = self.build / TUNED_DIR
        if not (folder / "key.txt").exists():
            return None
        with self._tuned_lock:
            if self._tuned is None and not self._tuned_failed:
                try:
                    self._tuned = load_tuned(folder, self.position)
                except Exception:
                    log.exception("could not load the tuned embedder in %s; the hybrid order stays", folder)
                self._tuned_failed = self._tuned is None
        return self._tuned

    @cached_property
    def phrases(self) -> frozenset[tuple[str, str]]:
        """Pairs of adjacent words these documents write in lower case ("foster carers", "core group"):
        the personal-detail check does not take a word of such a phrase for a name when a message uses the
        phrase ("Foster carers are asking..."). With them, as (word, ON_ITS_OWN), the documents' ordinary
        words (`common_lower_case_words`: "what should staff do"), and as (area, A_PLACE) the documents'
        areas, which it keeps as places ("does Hampshire set another timescale?"). Made on first use, from
        the passages already in memory."""
        pairs: set[tuple[str, str]] = set()
        for text in self.texts:
            pairs |= lower_case_phrases(text)
        pairs |= {(w, ON_ITS_OWN) for w in common_lower_case_words(self.texts)}
        pairs |= {(a, A_PLACE) for a in self.authorities if a != "national"}
        return frozenset(pairs)

    def dense(self, query_vector: np.ndarray, filters: Filters, n: int) -> list[int]:
        if not self.ids:
            return []
        with self._served():
            got = self.collection.query(
                query_embeddings=[query_vector.tolist()],
                n_results=min(n, len(self.ids)),
                where=filters.where(),
                include=[],
            )
        return [self.position[cid] for cid in got["ids"][0]]

    def ping(self) -> None:
        """On a Chroma server, one round trip (StoreUnavailable if it fails); embedded, nothing to do."""
        if self.chroma_url:
            with self._served():
                self.collection.count()

    @contextlib.contextmanager
    def _served(self) -> Iterator[None]:
        """A failing Chroma server is a 503 that names it (an embedded store's failure stays a bug)."""
        try:
            yield
        except Exception as exc:
            if not self.chroma_url:
                raise
            raise StoreUnavailable(
                f"the Chroma server at {self.chroma_url} is not answering ({exc}); try again"
            ) from exc

    def lexical(self, query: str, filters: Filters, n: int, extra: list[str] | None = None) -> list[int]:
        tokens = tokenize(query)
        if not tokens or not self.ids:
            return []
        scores = np.asarray(self._bm25.get_scores(tokens))
        # Glossary words count once each and for less than the user's own words.
        more = list(dict.fromkeys(t for t in tokenize(" ".join(extra or [])) if t not in tokens))
        if more:
            scores = scores + EXPANSION_WEIGHT * np.asarray(self._bm25.get_scores(more))
        order = np.argsort(-scores, kind="stable")
        out: list[int] = []
        for i in order:
            if scores[i] <= 0:
                break
            if filters.matches(self.metas[i]):
                out.append(int(i))
                if len(out) >= n:
                    break
        return out

    def result(self, i: int, score: float, dense_rank: int | None, lexical_rank: int | None) -> SearchResult:
        m = self.metas[i]
        return SearchResult(
            chunk_id=self.ids[i],
            doc_id=m["doc_id"],
            title=m["title"],
            edition=m["edition"],
            authority=m["authority"],
            paragraph=m["paragraph"] or None,
            page=m["page"] or None,
            heading=m["heading"],
            citation=m["citation"],
            text=self.texts[i],
            score=score,
            dense_rank=dense_rank,
            lexical_rank=lexical_rank,
        )


def _spelled_out(query: str, found: list[Expansion]) -> str:
    spelled = [x for e in found if (x := e.spelled_out)]
    return f"{query} ({'; '.join(spelled)})" if spelled else query


def _tuned_ranks(tuned: TunedVectors, query_vector: np.ndarray, candidates: list[int]) -> dict[int, int]:
    """Row -> rank (from 0) of the TUNED_DEPTH candidates the tuned model puts nearest the question. Only
    the fused candidates are scored (they already obey the filters), so the cost does not grow with
    the index: at 100,000 passages a product with every tuned vector took ~11 ms."""
    rows = np.asarray(candidates, dtype=np.int64)
    similarity = tuned.matrix[rows] @ np.asarray(query_vector, dtype=np.float32)
    nearest = rows[np.argsort(-similarity, kind="stable")[:TUNED_DEPTH]]
    return {int(i): r for r, i in enumerate(nearest)}


class HybridRetriever:
    """Searches whichever build CURRENT names, reopening when an ingest switches builds."""

    def __init__(
        self,
        location: IndexLocation,
        embedder: Embedder,
        *,
        max_query_chars: int = 1000,
        max_k: int = 50,
        reranker: Reranker | None = None,
        glossary: Glossary | None = None,
        mode: str = "hybrid",
        rrf_k: int = RRF_K,
        weights: tuple[float, float] = (1.0, 1.0),
        tuned_reorder: bool = True,
    ) -> None:
        if mode not in ("hybrid", "dense", "lexical"):
            raise ValueError(f"unknown retrieval mode {mode!r}")
        self.location = location
        self.embedder = embedder
        self.max_query_chars = max_query_chars
        self.max_k = max_k
        self.reranker = reranker or KeepOrder()
        self.glossary = glossary
        self.mode = mode
        self.rrf_k = rrf_k
        self.weights = weights  # (dense, lexical) weights in the fusion
        self.tuned_reorder = tuned_reorder  # use the build's tuned embedder when it has one
        self._reader: IndexReader | None = None
        self._lock = threading.Lock()

    def reader(self) -> IndexReader:
        build = self.location.require_current()
        with self._lock:
            if self._reader is None or self._reader.build != build:
                self._reader = IndexReader(build, self.embedder, self.glossary, self.location.chroma_url)
            return self._reader

    def validate(self, query: str, k: int, filters: Filters) -> IndexReader:
        if not query or not query.strip():
            raise InvalidQuery("the query is empty: type a question")
        if len(query) > self.max_query_chars:
            raise InvalidQuery(
                f"the query is {len(query)} characters; the limit is {self.max_query_chars}: shorten it"
            )
        if not 1 <= k <= self.max_k:
            raise InvalidQuery(f"k must be between 1 and {self.max_k} (got {k})")
        reader = self.reader()
        for name, value, known in (
            ("edition", filters.edition, reader.editions),
            ("authority", filters.authority, reader.authorities),
            ("document", filters.doc_id, reader.doc_ids),
        ):
            if value is not None and value not in known:
                raise InvalidQuery(f"no {name} '{value}' in the index; it holds: {', '.join(known)}")
        return reader

    def search(self, query: str, k: int = 5, filters: Filters | None = None) -> list[SearchResult]:
        filters = filters or Filters()
        filters = Filters(
            edition=filters.edition.strip().lower() if filters.edition else None,
            authority=filters.authority.strip().lower() if filters.authority else None,
            doc_id=filters.doc_id.strip() if filters.doc_id else None,
        )
        reader = self.validate(query, k, filters)
        depth = max(4 * k, 30)
        found = reader.expansions(query)
        dense_query = _spelled_out(query, found)
        extra = [t for e in found for t in e.others]
        tuned = reader.tuned() if self.mode == "hybrid" and self.tuned_reorder else None
        # The tuned model reads the question on the other core while the rest of the search runs.
        tuned_query = _SECOND_READER.submit(tuned.embedder.embed_query, dense_query) if tuned else None
        dense = (
            reader.dense(self.embedder.embed_query(dense_query), filters, depth)
            if self.mode != "lexical"
            else []
        )
        lexical = reader.lexical(query, filters, depth, extra) if self.mode != "dense" else []
        rankings = [(dense, self.weights[0]), (lexical, self.weights[1])]
        if self.mode == "hybrid":
            rankings.append((self._named_in_question(reader, query, dense, lexical), 1.0))
        fused: dict[int, float] = {}
        for ranking, weight in rankings:
            for rank, i in enumerate(ranking):
                fused[i] = fused.get(i, 0.0) + weight / (self.rrf_k + rank + 1)
        dense_rank = {i: r + 1 for r, i in enumerate(dense)}
        lexical_rank = {i: r + 1 for r, i in enumerate(lexical)}
        order = sorted(fused, key=lambda i: (-fused[i], dense_rank.get(i, 10**6), i))
        if tuned is not None and tuned_query is not None:
            try:
                vector = tuned_query.result()
            except Exception:  # the tuned model failing costs the reordering, never the search
                log.exception("the tuned embedder failed on a question; the hybrid order stays")
            else:
                order = self._reordered(_tuned_ranks(tuned, vector, order), order, fused, dense_rank)
        results = [reader.result(i, fused[i], dense_rank.get(i), lexical_rank.get(i)) for i in order]
        return self.reranker.rerank(query, results)[:k]

    def meaning_query(self, query: str) -> str:
        """The question as the meaning search reads it: each abbreviation it uses spelled out once ("the s47
        is finished" -> "the s47 is finished (section 47)"). The embedder does not know practitioners'
        abbreviations, so whatever else embeds a question to compare it with sentences or steps reads it
        this way too."""
        return _spelled_out(query, self.reader().expansions(query))

    @staticmethod
    def _reordered(
        tuned_rank: dict[int, int], order: list[int], fused: dict[int, float], dense_rank: dict[int, int]
    ) -> list[int]:
        """The first TUNED_TOP of `order` reordered with the tuned model's ranking as one more vote; the
        rest as they were. The same passages stay in the top TUNED_TOP. Updates `fused` for the head."""
        head = order[:TUNED_TOP]
        score = {
            i: fused[i] + (TUNED_WEIGHT / (RRF_K + tuned_rank[i] + 1) if i in tuned_rank else 0.0)
            for i in head
        }
        head.sort(key=lambda i: (-score[i], dense_rank.get(i, 10**6), i))
        fused.update(score)  # a passage's score is the one it was ordered by (still above the rest's)
        return head + order[TUNED_TOP:]

    @staticmethod
    def _named_in_question(
        reader: IndexReader, query: str, dense: list[int], lexical: list[int]
    ) -> list[int]:
        """A soft third ranking: candidates from an area or edition the question names ("in Staffordshire",
        "the 2018 guidance"), in the order the other two rankings found them. Not a filter: a hard filter
        is the caller's choice."""
        words = set(re.findall(r"[a-z0-9-]+", query.lower()))
        named_authorities = {a for a in reader.authorities if a != "national" and a in words}
        named_editions = {e for e in reader.editions if e in words}
        if not (named_authorities or named_editions):
            return []
        seen: set[int] = set()
        out: list[int] = []
        for i in (x for pair in zip(dense, lexical, strict=False) for x in pair):
            m = reader.metas[i]
            if i not in seen and (m["authority"] in named_authorities or m["edition"] in named_editions):
                seen.add(i)
                out.append(i)
        return out
