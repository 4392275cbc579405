"""Models: the seam the answer pipeline talks to (``ChatModel``), the providers behind it as LangChain chat
models (the packaged local model, any OpenAI-compatible server, Azure OpenAI, Ollama), the supervised
llama.cpp server for the local model, and fetching the packaged model from its PyPI parts."""

from safeguide.models.base import ChatModel, Message, Timing
from safeguide.models.providers import BACKENDS, LangChainModel, build_model, close_model

__all__ = ["BACKENDS", "ChatModel", "LangChainModel", "Message", "Timing", "build_model", "close_model"]
