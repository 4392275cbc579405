"""The model seam: a small ChatModel protocol and its backends.

- ``local``: a GGUF model through llama-cpp-python (default: the packaged Qwen2.5-Coder-1.5B-Instruct);
- ``openai``: any OpenAI-compatible server (vLLM, Ollama, llama.cpp server, Azure OpenAI) over HTTP;
- ``extractive`` needs no model at all: the chain composes answers from the passages (build_model
  returns None).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import httpx

from safeguide.errors import ModelUnavailable

Message = dict[str, str]


class ChatModel(Protocol):
    name: str

    def complete(self, messages: list[Message], max_tokens: int = 256) -> str: ...

    def stream(self, messages: list[Message], max_tokens: int = 256) -> Iterator[str]: ...


class LocalModel:
    """A GGUF model in this process through llama-cpp-python (greedy decoding: the same answer each time)."""

    def __init__(self, path: Path, n_ctx: int = 4096, threads: int | None = None) -> None:
        if not path.exists():
            raise ModelUnavailable(
                f"no model file at {path} (SAFEGUIDE_LLM_MODEL_PATH): run `safeguide models fetch`"
            )
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise ModelUnavailable("llama-cpp-python is not installed: run `make setup`") from exc
        self.name = path.name
        self._llm = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads, verbose=False, seed=0)

    def complete(self, messages: list[Message], max_tokens: int = 256) -> str:
        llm: Any = self._llm  # llama-cpp-python types messages as TypedDicts; ours are plain dicts
        out: Any = llm.create_chat_completion(messages=messages, max_tokens=max_tokens, temperature=0.0)
        return str(out["choices"][0]["message"]["content"] or "")

    def stream(self, messages: list[Message], max_tokens: int = 256) -> Iterator[str]:
        llm: Any = self._llm
        chunks: Any = llm.create_chat_completion(
            messages=messages, max_tokens=max_tokens, temperature=0.0, stream=True
        )
        for chunk in chunks:
            piece = chunk["choices"][0]["delta"].get("content")
            if piece:
                yield str(piece)


class OpenAICompatibleModel:
    """Any server speaking the OpenAI chat completions API."""

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout: float = 120.0) -> None:
        if not base_url:
            raise ModelUnavailable("SAFEGUIDE_LLM_BASE_URL is not set (e.g. http://127.0.0.1:8080/v1)")
        self.name = model or "default"
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)

    def _body(self, messages: list[Message], max_tokens: int, stream: bool) -> dict[str, Any]:
        return {
            "model": self.name,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": 0,
            "stream": stream,
        }

    def complete(self, messages: list[Message], max_tokens: int = 256) -> str:
        try:
            r = self._client.post("/chat/completions", json=self._body(messages, max_tokens, False))
            r.raise_for_status()
            return str(r.json()["choices"][0]["message"]["content"] or "")
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            raise ModelUnavailable(f"the model server at SAFEGUIDE_LLM_BASE_URL failed: {exc}") from exc

    def stream(self, messages: list[Message], max_tokens: int = 256) -> Iterator[str]:
        try:
            with self._client.stream(
                "POST", "/chat/completions", json=self._body(messages, max_tokens, True)
            ) as r:
                r.raise_for_status()
                for line in r.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    piece = json.loads(data)["choices"][0].get("delta", {}).get("content")
                    if piece:
                        yield str(piece)
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            raise ModelUnavailable(f"the model server at SAFEGUIDE_LLM_BASE_URL failed: {exc}") from exc
