"""Prompt templates are files in prompts/, loaded by name; every answer records the name and hash."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"


@dataclass(frozen=True)
class Prompt:
    name: str
    template: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.template.encode()).hexdigest()[:16]

    def render(self, **values: str) -> str:
        return self.template.format(**values)


@lru_cache(maxsize=16)
def load_prompt(name: str, directory: Path = PROMPTS_DIR) -> Prompt:
    return Prompt(name, (directory / f"{name}.txt").read_text(encoding="utf-8"))
