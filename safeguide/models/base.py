"""The model seam: what the answer pipeline asks of a model (``ChatModel``) and how fast it answered
(``Timing``). Providers are in ``safeguide.models.providers``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any, Protocol

Message = dict[str, str]


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
