"""Model providers through LangChain chat models: the seam's behaviour with LangChain's fake chat model
(unit), Azure OpenAI's client against a real llama.cpp server with the tiny GGUF (its requests reach the
server through a loopback proxy that maps Azure's deployment paths to the OpenAI ones), and Ollama and
Azure falling back with a reason when they cannot be reached or are not configured."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from safeguide.errors import ModelUnavailable
from safeguide.models import LangChainModel, build_model
from safeguide.models.server import ModelServer, free_loopback_port
from safeguide.settings import Settings

HELLO = [{"role": "user", "content": "Say hello."}]


def test_a_langchain_chat_model_answers_through_the_seam() -> None:
    chat = GenericFakeChatModel(messages=iter([AIMessage("Hello there."), AIMessage("Hello again.")]))
    model = LangChainModel(chat, "fake", timeout=5)
    assert model.complete(HELLO) == "Hello there."
    assert "".join(model.stream(HELLO)) == "Hello again."
    assert model.last is not None and model.last.tokens >= 2 and model.last.first_token_s is not None
    assert model.status()["provider"] == "GenericFakeChatModel"


def test_a_failing_provider_is_model_unavailable_with_its_reason() -> None:
    chat = GenericFakeChatModel(messages=iter([]))  # no answer left: the provider raises
    model = LangChainModel(chat, "fake", timeout=5, where="the test provider")
    with pytest.raises(ModelUnavailable, match="the test provider failed"):
        model.complete(HELLO)
    with pytest.raises(ModelUnavailable):
        list(model.stream(HELLO))
    assert model.last_error and "the test provider failed" in model.last_error


def test_ollama_that_is_not_running_is_a_reason_not_a_crash() -> None:
    port = free_loopback_port()  # nothing listens there
    model, mode, notice = build_model(
        Settings(llm_backend="ollama", llm_model="qwen2.5:1.5b", llm_base_url=f"http://127.0.0.1:{port}")
    )
    assert mode == "ollama" and model is not None and notice is None
    with pytest.raises(ModelUnavailable, match="Ollama server"):
        model.complete(HELLO, max_tokens=4)


@pytest.mark.parametrize(
    ("settings", "needs"),
    [
        (Settings(llm_backend="ollama"), "SAFEGUIDE_LLM_MODEL"),
        (Settings(llm_backend="azure", llm_base_url="https://x.openai.azure.com"), "SAFEGUIDE_LLM_API_KEY"),
        (Settings(llm_backend="openai"), "SAFEGUIDE_LLM_BASE_URL"),
    ],
)
def test_a_provider_missing_its_settings_falls_back_and_says_what_is_missing(
    settings: Settings, needs: str
) -> None:
    model, mode, notice = build_model(settings)
    assert (model, mode) == (None, "extractive") and notice and needs in notice


@pytest.fixture(scope="module")
def azure_endpoint(tiny_gguf: Path, output_dir: Path) -> Iterator[str]:
    """A real llama.cpp server behind a proxy that answers at Azure OpenAI's paths
    (/openai/deployments/NAME/chat/completions?api-version=...)."""
    server = ModelServer(tiny_gguf, log_path=output_dir / "llama-server-azure.log", alias="smollm2").start()
    seen: list[str] = []

    class Proxy(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append(self.path)
            if not self.path.startswith("/openai/deployments/smollm2/chat/completions?api-version="):
                self.send_error(404)
                return
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with httpx.stream(
                "POST",
                server.base_url + "/chat/completions",
                content=body,
                headers={"Content-Type": "application/json"},
                timeout=120,
            ) as upstream:
                self.send_response(upstream.status_code)
                self.send_header("Content-Type", upstream.headers.get("content-type", "application/json"))
                self.end_headers()  # HTTP/1.0: the body ends when the connection closes
                for chunk in upstream.iter_raw():
                    self.wfile.write(chunk)
                    self.wfile.flush()

        def log_message(self, format: str, *args: object) -> None:
            pass

    proxy = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    try:
        assert server.wait_ready(120), server.status()
        thread.start()
        yield f"http://127.0.0.1:{proxy.server_address[1]}"
    finally:
        proxy.shutdown()
        server.stop()
    assert seen, "the Azure client never reached the proxy"


@pytest.mark.slow
def test_azure_openai_answers_with_a_real_model(azure_endpoint: str) -> None:
    settings = Settings(
        llm_backend="azure", llm_base_url=azure_endpoint, llm_model="smollm2", llm_api_key="test-key"
    )
    model, mode, notice = build_model(settings)
    assert mode == "azure" and model is not None and notice is None
    assert model.complete(HELLO, max_tokens=8).strip()
    assert "".join(model.stream(HELLO, max_tokens=8)).strip()
