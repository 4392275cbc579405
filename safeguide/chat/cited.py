"""A cited answer from the passages found: the model's draft or quotations chosen in code, every sentence
checked against the passage it cites."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, TypeVar

from ingest.embedder import Embedder
from ingest.lexical import tokenize
from safeguide.chat.answers import (
    COMPARE,
    EDITION_NAMES,
    NOT_ANSWERED,
    YEARS,
    Answer,
    ChainCore,
    Source,
    says,
    trim,
    unique,
)
from safeguide.chat.prompts import load_prompt
from safeguide.chat.verify import Verified, judge_answer, split_sentences, verify
from safeguide.retrieval.citations import LIST_MARKER
from safeguide.retrieval.hybrid import Filters, SearchResult

if TYPE_CHECKING:
    from safeguide.chat.pipeline import Turn

P = TypeVar("P", bound=SearchResult)  # a passage: a search result, or a Source that cites one

GENERIC = frozenset(
    tokenize(
        "child children young people person social care worker work safeguarding welfare "
        "protection guidance procedure staff practitioner should must"
    )
)

EXTRACT_MIN_COSINE = 0.5

NEIGHBOUR_SPAN = 1

RELEVANCE_MIN_COSINE = 0.4

OFF_TOPIC_MAX_COSINE = 0.4

# A list under a lead-in ("... may only be accessed by the following:"): the marker at an item's start.
LIST_ITEM = re.compile(rf"^{LIST_MARKER}")
# The items quoted with their lead-in: whole items, up to this many words in all (at least one item).
LIST_MAX_WORDS = 90

ECHO = re.compile(r"^\s*(?:sources:|question:|answer:|\[\d+\]\s*\()", re.IGNORECASE)


def clean_draft(draft: str) -> str:
    """Drop what a small model echoes back from its prompt (the sources list, "Question:" lines)."""
    return "\n".join(line for line in draft.splitlines() if not ECHO.match(line))


def with_its_list(text: str, sentence: str) -> tuple[str, tuple[int, int]]:
    """A sentence that leads into a list (it ends in ":") with the items under it in its passage, joined by
    "; " after the lead-in, whole items up to LIST_MAX_WORDS; and how many items it shows of how many. A
    lead-in quoted alone says nothing ("The child protection register may only be accessed by the
    following:"). Any other sentence, or a lead-in with no items under it here, is returned as it is."""
    lead = sentence.strip(" -·•▶").rstrip(".")
    at = text.find(sentence)
    if not lead.endswith(":") or at < 0:
        return lead, (0, 0)
    items: list[str] = []
    for line in text[at + len(sentence) :].splitlines():
        if not line.strip():
            continue
        if not LIST_ITEM.match(line.strip()):
            break  # the list has ended (or there is none under it here): the passage goes on
        item = " ".join(LIST_ITEM.sub("", line.strip()).split()).rstrip(".;,")
        if item:
            items.append(item)
    if not items:
        return lead, (0, 0)
    kept = [items[0]]
    words = len(lead.split()) + len(items[0].split())
    for item in items[1:]:
        words += len(item.split())
        if words > LIST_MAX_WORDS:
            break
        kept.append(item)
    return f"{lead} {'; '.join(kept)}", (len(kept), len(items))


def closest_sentences(
    embedder: Embedder, question: str, sources: Sequence[P], scope: Iterable[str] = ()
) -> list[tuple[P, str, tuple[int, int]]]:
    """From each passage, the sentence closest in meaning to the question, in the passages' order, with
    the list it leads into if it ends in ":" (`with_its_list`: the quotation, and how many of the list's
    items it shows of how many); a passage with no close sentence gives none.

    Closeness is the embedding cosine plus a small bonus per shared key word; a sentence must be a
    real sentence (6 words or more), reach EXTRACT_MIN_COSINE, and share a key word of the question
    (with it or its passage's heading), or nothing is quoted from it. Words in `scope` (the areas and
    editions held) say where or when, not what, so they are not key words: "under the 2018 guidance" is
    not answered by any sentence that says "2018". The floor was set on the golden and safety questions:
    answerable questions reach 0.55-0.7, questions the guidance does not answer ("promise to keep a
    secret") stay below 0.5. The shared word catches some of those that pass it: a sentence about
    something else that happens to be close in meaning (3 rather than 4 of the 14 questions in
    eval/golden/not_in_guidance.jsonl got a quotation; the golden answers were unchanged).
    """
    wanted = set(tokenize(question)) - GENERIC - {w for x in scope for w in tokenize(x)}
    candidates = [
        (i, sentence)
        for i, s in enumerate(sources)
        for sentence in split_sentences(s.text)
        if len(sentence.split()) >= 6
    ]
    if not candidates:
        return []
    vectors = embedder.embed_documents([sentence for _, sentence in candidates])
    similarity = vectors @ embedder.embed_query(question)
    best: dict[int, tuple[float, str]] = {}
    for (i, sentence), cosine in zip(candidates, similarity, strict=True):
        if cosine < EXTRACT_MIN_COSINE:
            continue
        if wanted and not wanted & set(tokenize(f"{sentence} {sources[i].heading}")):
            continue
        score = float(cosine) + 0.04 * len(wanted & set(tokenize(sentence)))
        if i not in best or score > best[i][0]:
            best[i] = (score, sentence)
    return [(s, *with_its_list(s.text, best[i][1])) for i, s in enumerate(sources) if i in best]


class CitedAnswers(ChainCore):
    """Passages, a draft, and the checks every sentence of it must pass."""

    def _sources(self, turn: Turn, search: Callable[[], list[SearchResult]]) -> list[Source]:
        """The passages a cited answer rests on: the question's one shared search, or for "what changed
        between 2010 and 2018" with no edition chosen, instead the best two of each edition named (one
        search per edition, counted in the turn's searches)."""
        years = sorted(set(YEARS.findall(turn.text)))
        if bool(COMPARE.search(turn.text)) and len(years) >= 2 and not turn.edition:
            held = set(self.retriever.reader().editions)
            query = self._search_text(turn.text)
            filters = [Filters(edition=year, authority=turn.authority) for year in years if year in held]
            results = [r for f in filters for r in self.retriever.search(query, k=2, filters=f)]
            turn.searches += len(filters)
            turn.notices.append(
                "This compares editions: each sentence names the edition its source belongs to."
            )
        else:
            results = search()[: self.k]
        sources: list[Source] = []
        for r in results:
            self._add_source(sources, r)
        return sources

    def _checked_draft(
        self, question: str, draft: str, sources: list[Source], notices: list[str]
    ) -> Verified:
        """The model's draft, each sentence checked against its source by the model as judge; quotations
        instead when nothing it wrote holds. Raises ModelUnavailable when the model fails while judging."""
        verified = verify(clean_draft(draft), [s.text for s in sources], set(), self._judge)
        self._require_relevance(question, verified)
        if not verified.kept:
            # Nothing the model wrote survived the checks: quote the guidance instead, checked the same way.
            _, quotes = self._quoted(question, sources, None)
            if quotes.kept:
                for q in quotes.sentences:
                    q.cited_by = "quote"  # composed in code from the passage, checked word for word
                verified = Verified(verified.sentences + quotes.sentences)
                notices.append(
                    "The model's draft could not be checked against the guidance, so these are quotes "
                    "from the guidance itself."
                )
        return verified

    def _cited_answer(self, turn: Turn, verified: Verified) -> Answer:
        sources, notices = turn.sources, turn.notices
        kept = verified.kept
        text = verified.text() if kept else NOT_ANSWERED
        used = sorted({n for s in kept for n in s.cited})
        dropped = len(verified.sentences) - len(kept)
        if dropped and kept:
            notices.append(
                f"{dropped} sentence(s) of the draft were removed: their sources did not support them."
            )
        if len({(s.edition, s.authority) for s in sources if s.n in used}) > 1:
            notices.append(
                "The sources differ by edition or area: each sentence cites the source it rests on."
            )
        notices.extend(self._edition_notices([s for s in sources if s.n in used] or sources))
        provenance = self._provenance(sources, [], verified)
        if turn.mode != self.mode:
            provenance.update(mode=turn.mode, model=None, prompt=None, model_failed=True)
        return Answer(
            text,
            sources,
            [],
            False,
            unique(notices),
            turn.mode,
            provenance,
            turn.text,
            draft=turn.draft,
            verified=verified,
        )

    def _quoted(
        self, question: str, sources: list[Source], on_token: Callable[[str], None] | None
    ) -> tuple[str, Verified]:
        """Extractive mode: quotations chosen in code, verified word for word."""
        draft = self._extractive(question, sources)
        if on_token is not None and draft:
            on_token(draft)  # the unverified draft, as a model's tokens would arrive
        verified = verify(draft, [s.text for s in sources], set(), None)
        self._require_relevance(question, verified)
        return draft, verified

    def _extractive(self, question: str, sources: list[Source]) -> str:
        """Quote, from each of the top passages, the sentence closest in meaning to the question; cite it."""
        # With them, the paragraphs beside the best passage, read the same way (in the same batch): the
        # step asked about is often the next paragraph of the one the search put first. Each one quoted
        # is listed as a further source.
        reader = self.retriever.reader()
        held = {s.chunk_id for s in sources}
        around = [
            reader.result(j, 0.0, None, None)
            for j in (reader.neighbours(sources[0].chunk_id, NEIGHBOUR_SPAN) if sources else [])
            if reader.ids[j] not in held
        ]
        parts = []
        meaning = self.retriever.meaning_query(question)
        near = [*sources[:3], *around]
        for p, quote, items in closest_sentences(self.retriever.embedder, meaning, near, self._scope()):
            n = p.n if isinstance(p, Source) else self._add_source(sources, p)
            parts.append(says(sources[n - 1], quote, n, items))
        return "\n".join(parts)

    def _generate(self, question: str, sources: list[Source], on_token: Callable[[str], None] | None) -> str:
        assert self.model is not None
        # The model reads the top passages, trimmed: on 2 CPU cores every prompt token delays the first
        # answer token (~90 tokens/s). Verification still checks against the full passages.
        shown = sources[: self.model_sources]
        prompt = load_prompt("answer").render(
            sources="\n".join(
                f"[{s.n}] ({s.citation}; {EDITION_NAMES.get(s.edition, s.edition)}; {s.authority}) "
                f"{trim(s.text, self.model_source_chars)}"
                for s in shown
            ),
            question=question,
        )
        messages = [{"role": "user", "content": prompt}]
        if on_token is None:
            draft = self.model.complete(messages, max_tokens=220)
        else:
            pieces: list[str] = []
            for piece in self.model.stream(messages, max_tokens=220):
                pieces.append(piece)
                on_token(piece)
            draft = "".join(pieces)
        return "" if "NOT IN SOURCES" in draft else draft

    def _guidance_speaks_to(self, question: str, found: list[SearchResult]) -> bool:
        """For a question with none of the domain words: does any sentence of the passages its search
        found come close? ("When should DNA testing be considered?" 0.64; a lasagne recipe 0.25; the
        floor is 0.4.)"""
        sentences = [t for r in found[:5] for t in split_sentences(r.text) if len(t.split()) >= 6]
        if not sentences:
            return False
        embedder = self.retriever.embedder
        best = float((embedder.embed_documents(sentences) @ embedder.embed_query(question)).max())
        return best >= OFF_TOPIC_MAX_COSINE

    def _require_relevance(self, question: str, verified: Verified) -> None:
        """A kept sentence must be about the question, not merely true of its source."""
        kept = verified.kept
        if not kept:
            return
        embedder = self.retriever.embedder
        vectors = embedder.embed_documents([c.text for c in kept])
        asked = embedder.embed_query(self.retriever.meaning_query(question))
        for check, cosine in zip(kept, vectors @ asked, strict=True):
            if cosine < RELEVANCE_MIN_COSINE:
                check.kept = False
                check.reason = f"not about the question (similarity {float(cosine):.2f})"

    def _judge(self, passage: str, statement: str) -> str:
        assert self.model is not None
        prompt = load_prompt("judge").render(passage=passage[:1500], statement=statement)
        return judge_answer(self.model.complete([{"role": "user", "content": prompt}], max_tokens=3))
