"""Build the heavy objects (embedder, retriever) once, from settings. Used by the CLI and the API."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ingest.embedder import Embedder, SentenceTransformerEmbedder
from ingest.manifest import document_files, read_manifest
from ingest.store import IndexLocation, IngestReport, ingest
from safeguide.chat.chain import AnswerChain
from safeguide.chat.pathway import Navigator, Pathway
from safeguide.compare.comparer import Comparer
from safeguide.database import Database
from safeguide.errors import CorpusError, IndexNotReady
from safeguide.models import ChatModel
from safeguide.retrieval.citations import CitedPassage, find_passage
from safeguide.retrieval.glossary import Glossary
from safeguide.retrieval.hybrid import HybridRetriever, IndexReader
from safeguide.retrieval.tuning import TUNED_DIR, TuneOutcome, tune_build, tuned_key
from safeguide.settings import Settings
from safeguide.timescales.calendar import WorkingCalendar, default_calendar
from safeguide.timescales.review import ReviewStore, apply_reviews
from safeguide.timescales.rules import Rule, RuleSet, statement_key

log = logging.getLogger(__name__)


def build_embedder(settings: Settings) -> Embedder:
    return _load_embedder(settings.embedding_model_path)


@lru_cache(maxsize=2)
def _load_embedder(path: Path | None) -> Embedder:
    """One model per process, however many commands or app instances ask for it."""
    return SentenceTransformerEmbedder(path)


def build_retriever(settings: Settings, embedder: Embedder | None = None) -> HybridRetriever:
    return HybridRetriever(
        IndexLocation(settings.index_root, settings.chroma_url),
        embedder or build_embedder(settings),
        max_query_chars=settings.max_query_chars,
        max_k=settings.max_k,
        glossary=load_glossary(settings),
    )


def load_glossary(settings: Settings) -> Glossary | None:
    """`glossary.toml` in the corpus folder, if there is one (a bad file stops the start, saying why)."""
    path = settings.corpus_dir / "glossary.toml"
    if not path.exists():
        return None
    try:
        return Glossary.load(path)
    except ValueError as exc:
        raise CorpusError(str(exc)) from exc


def documents_status(settings: Settings) -> dict[str, Any]:
    """The manifest of every document in the index, plus documents in the corpus not yet indexed."""
    location = IndexLocation(settings.index_root, settings.chroma_url)
    build = location.current_build()
    state = location.read_state(build)
    docs: dict[str, dict[str, Any]] = {}
    for s in state.values():
        docs[s.id] = {
            **s.manifest,
            "file": s.file,
            "indexed": True,
            "chunks": s.chunks,
            "content_hash": s.content_hash,
            "ingested_at": s.ingested_at,
            "numbering_style": s.style,
            "dropped": s.dropped,
        }
    try:
        files = document_files([settings.corpus_dir])
    except CorpusError:
        files = []
    for f in files:
        try:
            manifest = read_manifest(f)
        except CorpusError:
            continue
        if manifest.id not in docs:
            docs[manifest.id] = {
                **manifest.model_dump(),
                "file": str(f),
                "indexed": False,
                "chunks": 0,
                "content_hash": None,
                "ingested_at": None,
            }
    return {"build": build.name if build else None, "documents": [docs[k] for k in sorted(docs)]}


def ingest_paths(
    settings: Settings,
    paths: list[Path],
    embedder: Embedder,
    progress: Any = None,
    *,
    tune: bool = True,
) -> IngestReport:
    """Ingest `paths` into a new build with the configured limits and vocabulary, then switch to it; then,
    when `tune` and `settings.tune_embedder`, tune the embedder on the serving build's passages (minutes
    the first time, nothing when they have not changed; search keeps the hybrid order until it is done).
    With `tune` False the tuning is left to `safeguide tune` or a server's BackgroundTuning."""
    location = IndexLocation(settings.index_root, settings.chroma_url)
    report = ingest(
        paths,
        location,
        embedder,
        max_bytes=settings.max_document_bytes,
        max_chars=settings.max_paragraph_chars,
        min_fragment=settings.min_fragment_chars,
        progress=progress,
        vocabulary=settings.vocabulary(),
    )
    base = getattr(embedder, "model_path", None)
    if tune and settings.tune_embedder and isinstance(base, Path):
        try:
            outcomes = tune_index(settings, embedder, base)
            report.tuning = outcomes[-1] if outcomes else None
        except Exception as exc:  # the ingest has landed and serves; only the reordering is missing
            log.exception("tuning the embedder failed; search keeps the hybrid order")
            reason = f"failed ({type(exc).__name__}: {exc}); search keeps the hybrid order"
            report.tuning = TuneOutcome(report.build or "", "", reason, 0, 0.0)
    return report


TUNE_LOCK = ".tune.lock"  # in the index root
TUNE_ROUNDS = 5  # builds tuned one after another by one call, at most


@contextmanager
def tuning_lock(index_root: Path) -> Iterator[None]:
    """One tuning of an index at a time across processes (an ingest, `safeguide tune`, a server's
    background job, each worker's): the others wait, then find the build up to date. The kernel drops
    the lock of a process that dies, so a killed tuning never leaves the index locked."""
    import fcntl

    index_root.mkdir(parents=True, exist_ok=True)
    with open(index_root / TUNE_LOCK, "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def tune_index(settings: Settings, embedder: Embedder, base: Path) -> list[TuneOutcome]:
    """The serving build tuned (`tune_serving_build`) under the index's tuning lock, and again for a build
    that began serving meanwhile (an upload landing during a tuning); what was done to each."""
    location = IndexLocation(settings.index_root, settings.chroma_url)
    outcomes: list[TuneOutcome] = []
    with tuning_lock(settings.index_root):
        for _ in range(TUNE_ROUNDS):
            outcome = tune_serving_build(location, embedder, base, max_pairs=settings.tune_max_pairs)
            if outcome is None:
                break
            outcomes.append(outcome)
            current = location.current_build()
            if current is None or current.name == outcome.build:
                break
    return outcomes


def tune_serving_build(
    location: IndexLocation, embedder: Embedder, base: Path, *, max_pairs: int | None = None
) -> TuneOutcome | None:
    """The tuned embedder for the build being served (`tuning.tune_build`); None when there is none."""
    build = location.current_build()
    if build is None:
        return None
    key = tuned_key(build / TUNED_DIR)
    if key is not None:  # a build's passages never change once it is made, so its tuned folder stays right
        return TuneOutcome(build.name, key, "up to date", 0, 0.0)
    reader = IndexReader(build, embedder, chroma_url=location.chroma_url)
    outcome = tune_build(build, reader.ids, reader.texts, reader.metas, base, max_pairs=max_pairs)
    log.info("tuned embedder for build %s: %s", build.name, outcome)
    return outcome


class BackgroundTuning:
    """The embedder tuned by a child process, `safeguide tune --background` (lower priority, one thread),
    so a server answers as soon as an ingest has landed, in the hybrid order until the build's tuned
    folder is complete (IndexReader.tuned picks it up then). Started when the server starts on a build
    without one and after an upload; stopped with the server (the next start begins again). Its output
    goes to tune.log in the index root."""

    MAX_CHILDREN = 2  # one tuning and one waiting on the lock is enough: the waiting one tunes the newest

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._children: list[subprocess.Popen[bytes]] = []
        self._guard = threading.Lock()

    @property
    def log_path(self) -> Path:
        return self.settings.index_root / "tune.log"

    def wanted(self) -> bool:
        """The setting is on and the serving build has no complete tuned folder."""
        if not self.settings.tune_embedder:
            return False
        build = IndexLocation(self.settings.index_root, self.settings.chroma_url).current_build()
        return build is not None and tuned_key(build / TUNED_DIR) is None

    def _alive(self) -> list[subprocess.Popen[bytes]]:
        """The children still running (the finished ones forgotten); the caller holds the guard."""
        self._children = [c for c in self._children if c.poll() is None]
        return self._children

    def running(self) -> bool:
        with self._guard:
            return bool(self._alive())

    def start(self) -> bool:
        """A child for the serving build when it wants one; whether one is now at work or waiting."""
        if not self.wanted():
            return self.running()
        with self._guard:
            if len(self._alive()) < self.MAX_CHILDREN:
                self._children.append(self._spawn())
            return True

    def _spawn(self) -> subprocess.Popen[bytes]:
        s = self.settings
        # The child reads its settings from the environment: this server's own, whatever made them.
        env = {
            **os.environ,
            "SAFEGUIDE_DATA_DIR": str(s.data_dir),
            "SAFEGUIDE_CORPUS_DIR": str(s.corpus_dir),
            "SAFEGUIDE_CHROMA_URL": s.chroma_url,
        }
        if s.embedding_model_path is not None:
            env["SAFEGUIDE_EMBEDDING_MODEL_PATH"] = str(s.embedding_model_path)
        if s.tune_max_pairs is not None:
            env["SAFEGUIDE_TUNE_MAX_PAIRS"] = str(s.tune_max_pairs)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as out:
            child = subprocess.Popen(
                [sys.executable, "-m", "safeguide", "tune", "--background"],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        log.info("tuning the embedder in the background (process %d, log %s)", child.pid, self.log_path)
        return child

    def stop(self, grace: float = 10.0) -> None:
        """Every child asked to stop (it removes its staging folder), then killed after `grace` seconds."""
        with self._guard:
            children, self._children = self._children, []
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def build_rules(settings: Settings, *, extracted: bool = True, db: Database | None = None) -> RuleSet:
    """The reviewed rules (corpus/timescales.toml) and, unless `extracted` is False, the rules read from
    the documents of the serving index at ingest, with their reviews applied (approved and corrected ones
    are reviewed rules, rejected ones are gone, the rest are marked "extracted", not yet reviewed). The
    reviews are read from `db`, or from the configured database opened for this alone."""
    rules = _load_rules(settings.rules_path, settings.events_path)
    if not extracted:
        return rules
    location = IndexLocation(settings.index_root, settings.chroma_url)
    vocabulary = settings.vocabulary()
    events = known_events(settings, vocabulary)
    if db is not None:
        from_documents, pending = document_rules(location, ReviewStore(db), events, rules)
    else:
        with settings.open_database() as own:
            from_documents, pending = document_rules(location, ReviewStore(own), events, rules)
    return rules.with_extracted(from_documents, unmatched(pending, vocabulary))


def unmatched(pending: list[dict[str, Any]], vocabulary: Any) -> list[dict[str, Any]]:
    """The statements no step was matched to, each with the events its sentence names (the vocabulary's
    phrases): an answer for a step the user's area has no rule for says when one of them may set it."""
    if vocabulary is None:
        return []
    return [
        {**p, "names": sorted({e for _, e, _ in vocabulary.find(p["as_written"], as_trigger=True)})}
        for p in pending
        if not p.get("mapped")
    ]


def known_events(settings: Settings, vocabulary: Any = None) -> set[str]:
    """Event ids a rule may use: the vocabulary's (`vocabulary`, if the caller has read it already) and
    those the reviewed rules use."""
    vocabulary = vocabulary if vocabulary is not None else settings.vocabulary()
    reviewed = _load_rules(settings.rules_path, settings.events_path)
    return set(vocabulary.events if vocabulary else ()) | reviewed.events()


def document_statements(location: IndexLocation) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The timescale statements read from each document at ingest: mapped onto rules, and unmapped."""
    mapped: list[dict[str, Any]] = []
    unmapped: list[dict[str, Any]] = []
    for state in location.read_state(location.current_build()).values():
        mapped.extend(r for r in state.timescales if r.get("fingerprint"))
        unmapped.extend(u for u in state.unmapped_timescales if u.get("fingerprint"))
    return mapped, unmapped


def document_rules(
    location: IndexLocation, store: ReviewStore | None, events: set[str], reviewed: RuleSet | None = None
) -> tuple[list[Rule], list[dict[str, Any]]]:
    """Rules from the documents' statements after review, and the statements waiting for one."""
    mapped, unmapped = document_statements(location)
    # What a reviewed rule in corpus/timescales.toml already states needs no second review.
    covered = reviewed.statements() if reviewed is not None else set()
    mapped = [m for m in mapped if statement_key(m) not in covered]
    unmapped = [u for u in unmapped if statement_key(u) not in covered]
    reviews = store.all() if store is not None else {}
    try:
        return apply_reviews(mapped, unmapped, reviews, events)
    except ValidationError as exc:  # a build written by an older version
        log.warning("timescales read from documents skipped: %s", exc)
        return [], []


@lru_cache(maxsize=4)
def _load_rules(path: Path, events: Path) -> RuleSet:
    return RuleSet.load(path, events)


def build_calendar(settings: Settings, authority: str | None = None) -> WorkingCalendar:
    """Bank holidays always; an authority's closure days only where a closure file is configured."""
    closures: dict[date, str] = {}
    if settings.closure_days_file is not None and authority:
        closures = _load_closures(settings.closure_days_file).get(authority.lower(), {})
    return _calendar(tuple(sorted(closures.items())))


@lru_cache(maxsize=16)
def _calendar(closures: tuple[tuple[date, str], ...]) -> WorkingCalendar:
    return default_calendar(closures=dict(closures))


def _load_closures(path: Path) -> dict[str, dict[date, str]]:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        return {
            area.lower(): {date.fromisoformat(str(d)): str(why) for d, why in days.items()}
            for area, days in raw.items()
        }
    except (OSError, tomllib.TOMLDecodeError, ValueError, AttributeError) as exc:
        raise CorpusError(f"closure days file {path}: {exc} (SAFEGUIDE_CLOSURE_DAYS_FILE)") from exc


def rule_citations(rules: RuleSet, retriever: HybridRetriever) -> dict[str, CitedPassage | None]:
    """Each rule's cited paragraph, looked up in the index (None where the index lacks it)."""
    try:
        reader = retriever.reader()
    except IndexNotReady:
        return dict.fromkeys(rules.rules)
    return {
        r.id: find_passage(
            reader.metas,
            reader.texts,
            r.citation.doc_id,
            r.citation.paragraph,
            r.citation.heading,
            r.citation.evidence,
        )
        for r in rules.rules.values()
    }


def citation_labels(cited: dict[str, CitedPassage | None]) -> dict[str, str]:
    """Rule id -> the citation label of its paragraph, for calendar files."""
    return {k: v.label for k, v in cited.items() if v is not None}


def build_chain(
    settings: Settings,
    retriever: HybridRetriever,
    rules: RuleSet,
    model: tuple[ChatModel | None, str, str | None],
) -> AnswerChain:
    location = IndexLocation(settings.index_root, settings.chroma_url)
    build = location.current_build()
    hashes = {k: v.content_hash for k, v in location.read_state(build).items()}
    chat, mode, notice = model
    return AnswerChain(
        retriever=retriever,
        rules=rules,
        calendar=lambda area: build_calendar(settings, area),
        model=chat,
        mode=mode,
        max_chars=settings.max_question_chars,
        doc_hashes=hashes,
        fallback_notice=notice,
        comparer=build_comparer(settings, retriever, rules, chat),
        navigator=build_navigator(settings.corpus_dir / "pathway.toml", retriever),
        vocabulary=settings.vocabulary(),
    )


def build_navigator(path: Path, retriever: HybridRetriever) -> Navigator | None:
    """The pathway for "what do I do next?" questions; None where the corpus has no pathway file."""
    if not path.exists():
        return None

    def passage_text(doc_id: str, ref: str) -> str | None:
        try:
            reader = retriever.reader()
        except IndexNotReady:
            return None
        found = find_passage(reader.metas, reader.texts, doc_id, ref, None, "") or find_passage(
            reader.metas, reader.texts, doc_id, None, ref, ""
        )
        return found.text if found else None

    def doc_edition(doc_id: str) -> str | None:
        try:
            reader = retriever.reader()
        except IndexNotReady:
            return None
        return reader.doc_editions.get(doc_id)

    return Navigator(Pathway.load(path), retriever.embedder, passage_text, doc_edition)


def edition_ids(settings: Settings) -> list[str]:
    """The editions in corpus/editions.toml, oldest first."""
    path = settings.corpus_dir / "editions.toml"
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        return [str(e["id"]) for e in raw["edition"]]
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
        raise CorpusError(f"editions file {path}: {exc}") from exc


def build_comparer(
    settings: Settings, retriever: HybridRetriever, rules: RuleSet, model: ChatModel | None = None
) -> Comparer:
    return Comparer(
        reader=retriever.reader,
        # Timescale differences between editions come from reviewed rules only.
        rules=rules.reviewed(),
        curated_file=settings.corpus_dir / "changes.toml",
        editions=edition_ids(settings),
        model=model,
    )
