"""Build the heavy objects (embedder, retriever) once, from settings. Used by the CLI and the API."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from ingest.embedder import Embedder, SentenceTransformerEmbedder
from ingest.manifest import document_files, read_manifest
from ingest.store import IndexLocation
from safeguide.errors import CorpusError
from safeguide.retrieval import HybridRetriever
from safeguide.settings import Settings


def build_embedder(settings: Settings) -> Embedder:
    return _load_embedder(settings.embedding_model_path)


@lru_cache(maxsize=2)
def _load_embedder(path: Path | None) -> Embedder:
    """One model per process, however many commands or app instances ask for it."""
    return SentenceTransformerEmbedder(path)


def build_retriever(settings: Settings, embedder: Embedder | None = None) -> HybridRetriever:
    return HybridRetriever(
        IndexLocation(settings.index_root),
        embedder or build_embedder(settings),
        max_query_chars=settings.max_query_chars,
        max_k=settings.max_k,
    )


def documents_status(settings: Settings) -> dict[str, Any]:
    """The manifest of every document in the index, plus documents in the corpus not yet indexed."""
    location = IndexLocation(settings.index_root)
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
