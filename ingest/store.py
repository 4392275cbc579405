"""The on-disk index: Chroma collections in build folders, switched atomically.

Layout under ``<data_dir>/index``::

    CURRENT              the name of the build that serves (replaced atomically with os.replace)
    .lock                held (flock) by the one ingest that may run at a time
    builds/<name>/       a Chroma PersistentClient folder plus state.json (written last)

With a Chroma server configured (SAFEGUIDE_CHROMA_URL, `chroma run`), a build's passages and vectors
live in the server's collection ``safeguide-<name>`` instead, and the build folder keeps the rest (state,
lexical index); everything else, the atomic switch included, is the same in both modes.

An ingest parses every new or changed document first (so a bad file fails before anything is
written), then builds a complete new index in a fresh build folder: chunks of unchanged documents
are copied from the serving build with their embeddings, new or changed documents are embedded.
Only when the new build is complete does CURRENT switch to it. A crash or a bad file at any point
leaves the previous build serving; the half-built folder is removed by the next ingest.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import chromadb
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import NotFoundError

from ingest.chunks import Chunk, make_chunks
from ingest.embedder import ChromaEmbedding, Embedder
from ingest.lexical import build_lexical, read_collection, save_lexical
from ingest.loaders import load_lines
from ingest.manifest import CorpusDocument, check_unique, describe, document_files
from ingest.paragraphs import parse_paragraphs
from ingest.timescale_extract import Vocabulary, find_statements, rules_from, whole_paragraphs
from safeguide.errors import CorpusError, IndexNotReady, StoreUnavailable
from safeguide.retrieval.glossary import defined_terms

COLLECTION = "safeguide-chunks"
# Bump when parsing, chunking or the embedded text changes: every document is then re-ingested.
PIPELINE_VERSION = "5"  # 4: page furniture removed; timescales read at ingest; 5: defined terms read
STATE_FILE = "state.json"
Progress = Callable[[int, int], None]  # (done, total) chunks embedded


def chroma_client(path: Path) -> Any:
    return chromadb.PersistentClient(
        path=str(path), settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    )


def server_client(url: str) -> Any:
    """A client of the Chroma server at `url`; StoreUnavailable if it does not answer."""
    from urllib.parse import urlsplit

    parts = urlsplit(url if "://" in url else f"http://{url}")
    if not parts.hostname:
        raise StoreUnavailable(f"SAFEGUIDE_CHROMA_URL {url!r} is not a URL such as http://127.0.0.1:8001")
    try:
        return chromadb.HttpClient(
            host=parts.hostname,
            port=parts.port or (443 if parts.scheme == "https" else 8000),
            ssl=parts.scheme == "https",
            settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False),
        )
    except Exception as exc:  # the client checks the server at once; any failure means the same
        raise StoreUnavailable(
            f"the Chroma server at {url} is not answering ({exc}); start it or unset SAFEGUIDE_CHROMA_URL"
        ) from exc


def server_collection_name(build: Path) -> str:
    return f"safeguide-{build.name}"


# HNSW is approximate, and a multi-threaded build differs run to run. With a corpus of thousands of
# paragraphs, a wide search and a single-threaded build cost little and make results repeatable.
HNSW = {"space": "cosine", "ef_construction": 200, "ef_search": 200, "max_neighbors": 32, "num_threads": 1}


def open_collection(path: Path, embedder: Embedder, chroma_url: str = "", create: bool = True) -> Any:
    """The build's collection: in its folder (embedded Chroma) or on the Chroma server. A reader
    (`create=False`) that finds no collection on the server gets StoreUnavailable, not an empty index."""
    client = server_client(chroma_url) if chroma_url else chroma_client(path)
    name = server_collection_name(path) if chroma_url else COLLECTION
    function = ChromaEmbedding(embedder)
    try:
        return client.get_collection(name, embedding_function=function)
    except NotFoundError:
        if not create and chroma_url:
            raise StoreUnavailable(
                f"the Chroma server at {chroma_url} holds no collection {name} for the serving build; "
                "was it started on another data folder? `safeguide ingest` builds it again"
            ) from None
        return client.create_collection(name, embedding_function=function, configuration={"hnsw": HNSW})
    except Exception as exc:
        if chroma_url:
            raise StoreUnavailable(f"the Chroma server at {chroma_url} failed: {exc}") from exc
        raise


@dataclass
class DocumentState:
    id: str
    file: str
    content_hash: str
    chunks: int
    style: str
    ingested_at: str
    manifest: dict[str, Any]
    dropped: dict[str, int] = field(default_factory=dict)
    # Timescale rules read from the document (Rule fields; status "extracted") and the statements
    # that did not map onto the event vocabulary, listed rather than guessed.
    timescales: list[dict[str, Any]] = field(default_factory=list)
    unmapped_timescales: list[dict[str, Any]] = field(default_factory=list)
    # Terms the document defines, as [acronym, long form]: "Child Death Overview Panel (CDOP)".
    terms: list[list[str]] = field(default_factory=list)


@dataclass
class IngestReport:
    build: str | None
    added: list[str]
    changed: list[str]
    removed: list[str]
    unchanged: list[str]
    chunks: int
    seconds: float
    timescales_reread: bool = False  # the event vocabulary changed: every document's timescales read again
    tuning: Any = None  # what tuning the embedder did after the ingest (safeguide.services), if it ran

    @property
    def up_to_date(self) -> bool:
        return not (self.added or self.changed or self.removed or self.timescales_reread)


class IndexLocation:
    def __init__(self, root: Path, chroma_url: str = "") -> None:
        self.root = root
        self.chroma_url = chroma_url  # "": embedded Chroma in each build folder
        self.builds = root / "builds"

    @property
    def current_file(self) -> Path:
        return self.root / "CURRENT"

    def current_build(self) -> Path | None:
        try:
            name = self.current_file.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        path = self.builds / name
        return path if (path / STATE_FILE).exists() else None

    def require_current(self) -> Path:
        build = self.current_build()
        if build is None:
            raise IndexNotReady(f"no index under {self.root}: run `safeguide ingest` first")
        return build

    @staticmethod
    def read_state(build: Path | None) -> dict[str, DocumentState]:
        if build is None:
            return {}
        raw = json.loads((build / STATE_FILE).read_text(encoding="utf-8"))
        return {d["id"]: DocumentState(**d) for d in raw["documents"]}

    def read_field(self, build: Path | None, name: str) -> str | None:
        if build is None:
            return None
        value = json.loads((build / STATE_FILE).read_text(encoding="utf-8")).get(name)
        return None if value is None else str(value)

    def read_pipeline(self, build: Path | None) -> str | None:
        if build is None:
            return None
        raw = json.loads((build / STATE_FILE).read_text(encoding="utf-8"))
        return str(raw.get("pipeline")) if raw.get("pipeline") else None

    def switch_to(self, build: Path) -> None:
        tmp = self.root / f".CURRENT.{uuid.uuid4().hex}"
        tmp.write_text(build.name + "\n", encoding="utf-8")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, self.current_file)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise CorpusError("another ingest is running on this index; wait for it to finish") from exc
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def collection(self, build: Path, embedder: Embedder, create: bool = False) -> Any:
        return open_collection(build, embedder, self.chroma_url, create=create)

    def has_collection(self, build: Path | None) -> bool:
        """Whether the Chroma server still holds the build's collection (always, embedded): one that was
        started on an empty folder has lost it, and the next ingest embeds everything again."""
        if build is None or not self.chroma_url:
            return True
        try:
            server_client(self.chroma_url).get_collection(server_collection_name(build))
        except NotFoundError:
            return False
        return True

    def collect_garbage(self, keep: set[str]) -> None:
        """Remove builds that no longer serve, including the remains of crashed ingests (and, on a Chroma
        server, their collections: only those of this location's own build folders)."""
        if not self.builds.exists():
            return
        gone = [child for child in self.builds.iterdir() if child.name not in keep]
        if gone and self.chroma_url:
            client = server_client(self.chroma_url)
            for child in gone:
                with contextlib.suppress(NotFoundError):
                    client.delete_collection(server_collection_name(child))
        for child in gone:
            shutil.rmtree(child, ignore_errors=True)


@dataclass(frozen=True)
class ParsedDocument:
    document: CorpusDocument
    chunks: list[Chunk]
    style: str
    dropped: dict[str, int]
    timescales: list[dict[str, Any]] = field(default_factory=list)
    unmapped_timescales: list[dict[str, Any]] = field(default_factory=list)
    terms: list[list[str]] = field(default_factory=list)


def parse_document(
    document: CorpusDocument,
    *,
    max_bytes: int,
    max_chars: int,
    min_fragment: int,
    vocabulary: Vocabulary | None = None,
) -> ParsedDocument:
    lines = load_lines(document.path, max_bytes=max_bytes)
    result = parse_paragraphs(lines, max_chars=max_chars, min_fragment_chars=min_fragment)
    if not result.paragraphs:
        raise CorpusError(f"{document.path.name}: no paragraphs found in the text")
    chunks = make_chunks(document.manifest, result.style, result.paragraphs)
    terms = sorted({pair for p in result.paragraphs for pair in defined_terms(p.text)})
    rules: list[dict[str, Any]] = []
    unmapped: list[dict[str, Any]] = []
    if vocabulary is not None:
        statements = find_statements(document.manifest.id, whole_paragraphs(result.paragraphs), vocabulary)
        rules, unmapped = rules_from(statements, document.manifest, vocabulary)
    return ParsedDocument(
        document, chunks, result.style.value, result.dropped, rules, unmapped, [list(t) for t in terms]
    )


def ingest(
    paths: list[Path],
    location: IndexLocation,
    embedder: Embedder,
    *,
    max_bytes: int,
    max_chars: int = 1200,
    min_fragment: int = 40,
    progress: Progress | None = None,
    batch_size: int = 64,
    vocabulary: Vocabulary | None = None,
) -> IngestReport:
    """Bring the index in line with the documents at `paths` (folders are expanded)."""
    started = time.perf_counter()
    with location.lock():
        documents = [describe(p) for p in document_files(paths)]
        if not documents:
            raise CorpusError(
                "no documents found (.txt, .md, .pdf or .docx) in " + ", ".join(map(str, paths))
            )
        check_unique(documents)
        current = location.current_build()
        pipeline = f"{PIPELINE_VERSION}|{embedder.name}|{max_chars}|{min_fragment}"
        old = (
            location.read_state(current)
            if location.read_pipeline(current) == pipeline and location.has_collection(current)
            else {
                i: replace(s, content_hash="(made by another pipeline)")
                for i, s in location.read_state(current).items()
            }
        )
        wanted = {d.manifest.id: d for d in documents}
        unchanged = [i for i, d in wanted.items() if i in old and old[i].content_hash == d.content_hash]
        changed = [i for i, d in wanted.items() if i in old and old[i].content_hash != d.content_hash]
        added = [i for i in wanted if i not in old]
        removed = [i for i in old if i not in wanted]
        vocabulary_fp = vocabulary.fingerprint if vocabulary is not None else ""
        reread = vocabulary_fp != location.read_field(current, "vocabulary")
        if not (added or changed or removed or reread):
            location.collect_garbage({current.name} if current else set())
            return IngestReport(
                current.name if current else None,
                [],
                [],
                [],
                unchanged,
                sum(s.chunks for s in old.values()),
                time.perf_counter() - started,
            )
        # Parse everything new before writing anything: a bad file stops the ingest here.
        parsed = {
            i: parse_document(
                wanted[i],
                max_bytes=max_bytes,
                max_chars=max_chars,
                min_fragment=min_fragment,
                vocabulary=vocabulary,
            )
            for i in added + changed
        }
        location.collect_garbage({current.name} if current else set())
        name = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
        build = location.builds / name
        build.mkdir(parents=True)
        collection = location.collection(build, embedder, create=True)
        total_chunks = 0
        if unchanged and current is not None:
            source = location.collection(current, embedder)
            total_chunks += _copy_unchanged(source, collection, unchanged)
        to_embed = [c for i in added + changed for c in parsed[i].chunks]
        done = 0
        for start in range(0, len(to_embed), batch_size):
            batch = to_embed[start : start + batch_size]
            vectors = embedder.embed_documents([c.embed_text() for c in batch])
            collection.add(
                ids=[c.id for c in batch],
                embeddings=[v.tolist() for v in vectors],
                documents=[c.text for c in batch],
                metadatas=[c.metadata() for c in batch],
            )
            done += len(batch)
            if progress is not None:
                progress(done, len(to_embed))
        total_chunks += len(to_embed)
        # The lexical index is built once here and kept with the build, not rebuilt by every worker.
        ids, texts, metas = read_collection(collection)
        save_lexical(build, ids, build_lexical(ids, texts, metas))
        now = datetime.now(UTC).isoformat(timespec="seconds")
        states = [
            DocumentState(
                id=i,
                file=str(wanted[i].path),
                content_hash=wanted[i].content_hash,
                chunks=len(parsed[i].chunks),
                style=parsed[i].style,
                ingested_at=now,
                manifest=wanted[i].manifest.model_dump(),
                dropped=parsed[i].dropped,
                timescales=parsed[i].timescales,
                unmapped_timescales=parsed[i].unmapped_timescales,
                terms=parsed[i].terms,
            )
            for i in added + changed
        ] + [
            _reread(old[i], wanted[i], vocabulary, max_bytes, max_chars, min_fragment) if reread else old[i]
            for i in unchanged
        ]
        state = {
            "build": name,
            "created": now,
            "embedder": embedder.name,
            "pipeline": pipeline,
            "vocabulary": vocabulary_fp,
            "documents": [s.__dict__ for s in sorted(states, key=lambda s: s.id)],
        }
        tmp = build / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps(state, indent=2), encoding="utf-8")
        os.replace(tmp, build / STATE_FILE)
        location.switch_to(build)
        location.collect_garbage({name} | ({current.name} if current else set()))
        return IngestReport(
            name, added, changed, removed, unchanged, total_chunks, time.perf_counter() - started, reread
        )


def _reread(
    state: DocumentState,
    document: CorpusDocument,
    vocabulary: Vocabulary | None,
    max_bytes: int,
    max_chars: int,
    min_fragment: int,
) -> DocumentState:
    """An unchanged document's timescales read again (the event vocabulary changed); nothing re-embedded."""
    parsed = parse_document(
        document, max_bytes=max_bytes, max_chars=max_chars, min_fragment=min_fragment, vocabulary=vocabulary
    )
    return replace(state, timescales=parsed.timescales, unmapped_timescales=parsed.unmapped_timescales)


def _copy_unchanged(source: Any, collection: Any, doc_ids: list[str]) -> int:
    got = source.get(where={"doc_id": {"$in": doc_ids}}, include=["embeddings", "documents", "metadatas"])
    ids = got["ids"]
    for start in range(0, len(ids), 500):
        end = start + 500
        collection.add(
            ids=ids[start:end],
            embeddings=[list(map(float, e)) for e in got["embeddings"][start:end]],
            documents=got["documents"][start:end],
            metadatas=got["metadatas"][start:end],
        )
    return len(ids)
