"""The model seam: a small ChatModel protocol and the one client every model server is reached through.

- ``local``: the packaged Qwen2.5-Coder-1.5B-Instruct GGUF behind llama.cpp's OpenAI-compatible server,
  in a process of its own that ``safeguide.model_server.ModelServer`` starts, watches and restarts;
- ``openai``: any OpenAI-compatible server you run (vLLM, Ollama, llama.cpp server, Azure OpenAI);
- ``extractive`` needs no model at all: the chain composes answers from the passages (build_model
  returns None).

Both model backends use ``OpenAICompatibleModel``. Every failure (refused connection, a server that died
mid-answer, an answer slower than ``timeout`` seconds, a malformed reply) is a ``ModelUnavailable`` with a
reason, which the chain turns into an extractive answer with a notice. With a supervised local server, a
request is refused at once while the server is down, and a failed request makes the supervisor probe it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from safeguide.errors import ModelUnavailable

if TYPE_CHECKING:
    from safeguide.model_server import ModelServer

Message = dict[str, str]
log = logging.getLogger("safeguide.llm")


class ChatModel(Protocol):
    name: str

    def complete(self, messages: list[Message], max_tokens: int = 256) -> str: ...

    def stream(self, messages: list[Message], max_tokens: int = 256) -> Iterator[str]: ...


@dataclass
class Timing:
    """How fast the model answered one request. Generation speed is only known for a streamed answer
    (tokens after the first, over the time after it); a whole answer's time includes reading the prompt."""

    tokens: int
    seconds: float
    first_token_s: float | None
    prompt_tokens: int | None = None

    @property
    def tokens_per_s(self) -> float | None:
        if self.first_token_s is None or self.tokens < 2:
            return None
        generating = self.seconds - self.first_token_s
        return round((self.tokens - 1) / generating, 1) if generating > 0 else None

    def describe(self) -> str:
        if self.first_token_s is None:
            prompt = f" after a {self.prompt_tokens}-token prompt" if self.prompt_tokens else ""
            return f"{self.tokens} tokens{prompt} in {self.seconds:.2f} s (whole answer)"
        return (
            f"{self.tokens} tokens in {self.seconds:.2f} s (first token after {self.first_token_s:.2f} s, "
            f"then {self.tokens_per_s or 0:.1f} tokens/s)"
        )

    def public(self) -> dict[str, Any]:
        return {**asdict(self), "tokens_per_s": self.tokens_per_s}


class OpenAICompatibleModel:
    """Any server speaking the OpenAI chat completions API, with a time limit on every answer."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = 60.0,
        server: ModelServer | None = None,
    ) -> None:
        if not base_url:
            raise ModelUnavailable("SAFEGUIDE_LLM_BASE_URL is not set (e.g. http://127.0.0.1:8080/v1)")
        self.name = model or "default"
        self.timeout = timeout
        self.server = server
        self.where = "the local model server" if server else "the model server at SAFEGUIDE_LLM_BASE_URL"
        self.last: Timing | None = None
        self.last_error: str | None = None  # the most recent failure, with its time (UTC)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=headers,
            # read: the longest silence allowed between two pieces of an answer
            timeout=httpx.Timeout(timeout, connect=5.0),
        )

    def close(self) -> None:
        """Close the connection pool, and stop the supervised server this client owns."""
        self._client.close()
        if self.server is not None:
            self.server.stop()

    def _body(self, messages: list[Message], max_tokens: int, stream: bool) -> dict[str, Any]:
        return {
            "model": self.name,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": 0,
            "stream": stream,
        }

    def _failed(self, exc: Exception | str) -> ModelUnavailable:
        if isinstance(exc, httpx.TimeoutException):
            reason = f"no answer within {self.timeout:.0f} s (SAFEGUIDE_LLM_TIMEOUT)"
        else:
            reason = str(exc) or type(exc).__name__
        message = f"{self.where} failed: {reason}"
        self.last_error = f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())} {message}"
        if self.server is not None:
            self.server.suspect(reason)
        return ModelUnavailable(message)

    def _record(self, tokens: int, started: float, first: float | None, prompt: int | None = None) -> None:
        self.last = Timing(tokens, round(time.monotonic() - started, 3), first, prompt)
        log.info("model %s answered: %s", self.name, self.last.describe())

    def complete(self, messages: list[Message], max_tokens: int = 256) -> str:
        if self.server is not None:
            self.server.check()
        started = time.monotonic()
        try:
            r = self._client.post("/chat/completions", json=self._body(messages, max_tokens, False))
            r.raise_for_status()
            body = r.json()
            text = str(body["choices"][0]["message"]["content"] or "")
        except (httpx.HTTPError, KeyError, ValueError, TypeError) as exc:
            raise self._failed(exc) from exc
        usage = body.get("usage") or {}
        prompt = usage.get("prompt_tokens")
        self._record(int(usage.get("completion_tokens") or 0), started, None, int(prompt) if prompt else None)
        return text

    def stream(self, messages: list[Message], max_tokens: int = 256) -> Iterator[str]:
        if self.server is not None:
            self.server.check()
        started = time.monotonic()
        deadline = started + self.timeout
        first: float | None = None
        pieces = 0
        try:
            with self._client.stream(
                "POST", "/chat/completions", json=self._body(messages, max_tokens, True)
            ) as r:
                r.raise_for_status()
                for line in r.iter_lines():
                    if time.monotonic() > deadline:
                        raise self._failed(f"cut off after {self.timeout:.0f} s (SAFEGUIDE_LLM_TIMEOUT)")
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    piece = json.loads(data)["choices"][0].get("delta", {}).get("content")
                    if piece:
                        if first is None:
                            first = round(time.monotonic() - started, 3)
                        pieces += 1
                        yield str(piece)
        except (httpx.HTTPError, KeyError, ValueError, TypeError, IndexError) as exc:
            raise self._failed(exc) from exc
        self._record(pieces, started, first)

    def status(self) -> dict[str, Any]:
        """For /api/status: where the model runs, whether it is up, and how fast it last answered."""
        out: dict[str, Any] = {"name": self.name, "timeout_s": self.timeout}
        if self.server is not None:
            out["server"] = self.server.status()
        out["last_answer"] = self.last.public() if self.last else None
        out["last_error"] = self.last_error
        return out
