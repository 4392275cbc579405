"""Model providers, each a LangChain chat model chosen by settings (``SAFEGUIDE_LLM_BACKEND``):

- ``local``: the packaged Qwen2.5-Coder-1.5B-Instruct GGUF behind llama.cpp's OpenAI-compatible server, in
  a process of its own that ``ModelServer`` starts, watches and restarts; reached with ``ChatOpenAI``;
- ``openai``: any OpenAI-compatible server (OpenAI, vLLM, a llama.cpp server, LM Studio): ``ChatOpenAI``;
- ``azure``: Azure OpenAI, common in UK public services: ``AzureChatOpenAI`` (endpoint, deployment,
  API version, key);
- ``ollama``: an Ollama server: ``ChatOllama``;
- ``extractive`` needs no model: answers are composed from the passages (``build_model`` returns None).

Every provider is wrapped in ``LangChainModel``, so what the answer pipeline relies on is the same for
all: temperature 0, no retries, a time limit on every answer, its timing recorded, and every failure
(refused connection, a server that died mid-answer, an answer too slow, a malformed reply) a
``ModelUnavailable`` with a reason, which the pipeline turns into a quoted answer with a notice. With a
supervised local server, a request is refused at once while the server is down, and a failed request
makes the supervisor probe it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from safeguide.errors import ModelUnavailable
from safeguide.models.base import ChatModel, Message, Timing

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from safeguide.models.server import ModelServer
    from safeguide.settings import Settings

log = logging.getLogger("safeguide.models")
BACKENDS = ("extractive", "local", "openai", "azure", "ollama")


class LangChainModel:
    """A LangChain chat model behind the ``ChatModel`` seam. `limit_field` is the provider's name for the
    answer-length limit (``max_tokens`` for OpenAI and Azure, ``num_predict`` for Ollama)."""

    def __init__(
        self,
        chat: BaseChatModel,
        name: str,
        *,
        timeout: float,
        limit_field: str = "max_tokens",
        where: str = "the model server",
        server: ModelServer | None = None,
    ) -> None:
        self.chat = chat
        self.name = name or "default"
        self.timeout = timeout
        self.limit_field = limit_field
        self.where = where
        self.server = server
        self.last: Timing | None = None
        self.last_error: str | None = None  # the most recent failure, with its time (UTC)

    def close(self) -> None:
        """Stop the supervised server this client owns, if any."""
        if self.server is not None:
            self.server.stop()

    def _limited(self, max_tokens: int) -> BaseChatModel:
        return self.chat.model_copy(update={self.limit_field: max_tokens})

    def _failed(self, exc: Exception | str) -> ModelUnavailable:
        if isinstance(exc, str):
            reason = exc
        elif "timeout" in type(exc).__name__.lower() or "timed out" in str(exc).lower():
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
        from langchain_core.messages import convert_to_messages

        if self.server is not None:
            self.server.check()
        started = time.monotonic()
        try:
            reply = self._limited(max_tokens).invoke(convert_to_messages(messages))
            text = reply.content if isinstance(reply.content, str) else ""
        except Exception as exc:  # every provider raises its own kinds; all mean the same here
            raise self._failed(exc) from exc
        usage: dict[str, Any] = dict(getattr(reply, "usage_metadata", None) or {})
        prompt = usage.get("input_tokens")
        self._record(int(usage.get("output_tokens") or 0), started, None, int(prompt) if prompt else None)
        return text

    def stream(self, messages: list[Message], max_tokens: int = 256) -> Iterator[str]:
        from langchain_core.messages import convert_to_messages

        if self.server is not None:
            self.server.check()
        started = time.monotonic()
        deadline = started + self.timeout
        first: float | None = None
        pieces = 0
        try:
            for chunk in self._limited(max_tokens).stream(convert_to_messages(messages)):
                if time.monotonic() > deadline:
                    raise self._failed(f"cut off after {self.timeout:.0f} s (SAFEGUIDE_LLM_TIMEOUT)")
                piece = chunk.content if isinstance(chunk.content, str) else ""
                if piece:
                    if first is None:
                        first = round(time.monotonic() - started, 3)
                    pieces += 1
                    yield piece
        except ModelUnavailable:
            raise
        except Exception as exc:
            raise self._failed(exc) from exc
        self._record(pieces, started, first)

    def status(self) -> dict[str, Any]:
        """For /api/status: where the model runs, whether it is up, and how fast it last answered."""
        out: dict[str, Any] = {
            "name": self.name,
            "provider": type(self.chat).__name__,
            "timeout_s": self.timeout,
        }
        if self.server is not None:
            out["server"] = self.server.status()
        out["last_answer"] = self.last.public() if self.last else None
        out["last_error"] = self.last_error
        return out


def openai_compatible(
    base_url: str, model: str, *, api_key: str = "", timeout: float = 60.0, server: ModelServer | None = None
) -> LangChainModel:
    """Any OpenAI-compatible server (the local llama.cpp server among them) through ``ChatOpenAI``."""
    from langchain_openai import ChatOpenAI

    if not base_url:
        raise ModelUnavailable("SAFEGUIDE_LLM_BASE_URL is not set (e.g. http://127.0.0.1:8080/v1)")
    chat = ChatOpenAI(
        base_url=base_url.rstrip("/"),
        model=model or "default",
        api_key=api_key or "not-needed",  # local servers ignore it
        temperature=0,
        timeout=timeout,
        max_retries=0,
    )
    where = "the local model server" if server else "the model server at SAFEGUIDE_LLM_BASE_URL"
    return LangChainModel(chat, model, timeout=timeout, where=where, server=server)


def azure_openai(settings: Settings) -> LangChainModel:
    """Azure OpenAI: SAFEGUIDE_LLM_BASE_URL is the resource endpoint, SAFEGUIDE_LLM_MODEL the deployment."""
    from langchain_openai import AzureChatOpenAI

    missing = [
        name
        for name, value in (
            ("SAFEGUIDE_LLM_BASE_URL (the Azure endpoint)", settings.llm_base_url),
            ("SAFEGUIDE_LLM_MODEL (the deployment)", settings.llm_model),
            ("SAFEGUIDE_LLM_API_KEY", settings.llm_api_key),
        )
        if not value
    ]
    if missing:
        raise ModelUnavailable(f"Azure OpenAI needs {', '.join(missing)}")
    chat = AzureChatOpenAI(
        azure_endpoint=settings.llm_base_url.rstrip("/"),
        azure_deployment=settings.llm_model,
        api_version=settings.llm_api_version,
        api_key=settings.llm_api_key,
        temperature=0,
        timeout=settings.llm_timeout,
        max_retries=0,
    )
    return LangChainModel(
        chat, settings.llm_model, timeout=settings.llm_timeout, where="Azure OpenAI at SAFEGUIDE_LLM_BASE_URL"
    )


def ollama(settings: Settings) -> LangChainModel:
    """An Ollama server (default http://127.0.0.1:11434); SAFEGUIDE_LLM_MODEL names the model."""
    from langchain_ollama import ChatOllama

    if not settings.llm_model:
        raise ModelUnavailable("Ollama needs SAFEGUIDE_LLM_MODEL (e.g. qwen2.5:1.5b)")
    base_url = settings.llm_base_url or "http://127.0.0.1:11434"
    chat = ChatOllama(
        base_url=base_url,
        model=settings.llm_model,
        temperature=0,
        client_kwargs={"timeout": settings.llm_timeout},
    )
    return LangChainModel(
        chat,
        settings.llm_model,
        timeout=settings.llm_timeout,
        limit_field="num_predict",
        where=f"the Ollama server at {base_url}",
    )


def _local(settings: Settings) -> LangChainModel:
    from safeguide.models.fetch import FILENAME
    from safeguide.models.server import ModelServer

    path = settings.llm_model_path or settings.models_dir / FILENAME
    server = ModelServer(
        path,
        log_path=settings.data_dir / "logs" / "model-server.log",
        alias=path.name,
        threads=settings.llm_threads,
        port=settings.llm_server_port,
        start_timeout=settings.llm_start_timeout,
    ).start()
    server.wait_ready(settings.llm_start_timeout, give_up_on_failure=True)
    return openai_compatible(server.base_url, path.name, timeout=settings.llm_timeout, server=server)


def build_model(settings: Settings) -> tuple[ChatModel | None, str, str | None]:
    """The configured model, the mode actually in use, and a notice when it fell back to extractive.
    A broken provider never shows a stack trace: it falls back, and says so in every answer.

    `local` starts the packaged model behind a supervised llama.cpp server on loopback (its own process),
    and waits for it to load (SAFEGUIDE_LLM_START_TIMEOUT); if it is not up by then the server keeps
    trying in the background and answers fall back to quotations until it is."""
    backend = settings.llm_backend
    if backend == "extractive":
        return None, "extractive", None
    try:
        if backend == "local":
            model = _local(settings)
        elif backend == "azure":
            model = azure_openai(settings)
        elif backend == "ollama":
            model = ollama(settings)
        else:
            model = openai_compatible(
                settings.llm_base_url,
                settings.llm_model,
                api_key=settings.llm_api_key,
                timeout=settings.llm_timeout,
            )
        return model, backend, None
    except ModelUnavailable as exc:
        notice = (
            f"The {backend} model is not available ({exc}); answers are quoted from the "
            "guidance instead (extractive mode)."
        )
        return None, "extractive", notice


def close_model(model: tuple[ChatModel | None, str, str | None]) -> None:
    """Stop what build_model started (the local model server) and close its connections."""
    close = getattr(model[0], "close", None)
    if close is not None:
        close()
