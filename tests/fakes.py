"""Deterministic stand-ins at the model seam only (house style: fakes at the model seam, nowhere else)."""

from __future__ import annotations

import hashlib
import re

import numpy as np


class HashingEmbedder:
    """Bag of hashed words, normalised: fast, deterministic, and similar texts get similar vectors."""

    name = "hashing-test-embedder"
    dimension = 384

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "little")
                out[row, h % self.dimension] += 1.0
            norm = float(np.linalg.norm(out[row])) or 1.0
            out[row] /= norm
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


class ScriptedModel:
    """A chat model that answers from a script and records every prompt it was sent."""

    name = "scripted-test-model"

    def __init__(self, draft: str, judge: dict[str, str] | None = None) -> None:
        self.draft = draft
        self.judge = judge or {}
        self.prompts: list[str] = []

    def complete(self, messages: list[dict[str, str]], max_tokens: int = 256) -> str:
        prompt = messages[-1]["content"]
        self.prompts.append(prompt)
        if prompt.startswith("Does the passage support the statement?"):
            statement = prompt.split("Statement:")[1]
            return next((v for k, v in self.judge.items() if k in statement), "yes")
        return self.draft

    def stream(self, messages: list[dict[str, str]], max_tokens: int = 256):  # type: ignore[no-untyped-def]
        text = self.complete(messages, max_tokens)
        yield from (text[i : i + 7] for i in range(0, len(text), 7))


class DyingModel(ScriptedModel):
    """A model that dies the way a crashed or hung server looks to the client: after `after` pieces of a
    streamed answer (or at once for a whole answer) it raises ModelUnavailable."""

    name = "dying-test-model"

    def __init__(self, draft: str, after: int = 2, reason: str = "peer closed connection") -> None:
        super().__init__(draft)
        self.after = after
        self.reason = reason

    def complete(self, messages: list[dict[str, str]], max_tokens: int = 256) -> str:
        from safeguide.errors import ModelUnavailable

        self.prompts.append(messages[-1]["content"])
        raise ModelUnavailable(f"the local model server failed: {self.reason}")

    def stream(self, messages: list[dict[str, str]], max_tokens: int = 256):  # type: ignore[no-untyped-def]
        from safeguide.errors import ModelUnavailable

        self.prompts.append(messages[-1]["content"])
        yield from (self.draft[i : i + 7] for i in range(0, 7 * self.after, 7))
        raise ModelUnavailable(f"the local model server failed: {self.reason}")
