"""The corpus manifest: one TOML file beside each document, with the same stem."""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError, field_validator

from ingest.loaders import SUPPORTED
from safeguide.errors import InvalidManifest, MissingManifest

KINDS = ("statutory guidance", "summary of changes", "local procedure", "briefing")

TEMPLATE = """id = "{stem}"
title = "Full title of the document"
label = "Short label a practitioner would write in a citation"
kind = "statutory guidance"   # or: summary of changes | local procedure | briefing
edition = "2018"              # edition of Working Together it follows (2010, 2013, 2015, 2018, 2023)
authority = "national"        # or the local authority's area, e.g. "hampshire"
published = "2018-07-04"      # where known
supersedes = []
superseded_by = []
source = "Where the document came from"
"""


class DocumentManifest(BaseModel):
    id: str = Field(min_length=2, max_length=80)
    title: str = Field(min_length=3)
    label: str = Field(min_length=2)
    kind: str
    edition: str = Field(min_length=2)
    authority: str = Field(min_length=2)
    published: str = ""
    in_force: str = ""
    supersedes: list[str] = Field(default_factory=list)
    superseded_by: list[str] = Field(default_factory=list)
    numbering: str = ""
    source: str = ""

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9][a-z0-9._-]*[a-z0-9]", value):
            raise ValueError("use lower-case letters, digits, '.', '_' and '-' only")
        return value

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        if value not in KINDS:
            raise ValueError(f"must be one of: {', '.join(KINDS)}")
        return value

    @field_validator("authority", "edition")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip().lower()


@dataclass(frozen=True)
class CorpusDocument:
    path: Path
    manifest: DocumentManifest
    content_hash: str  # sha256 of the document bytes and its manifest entry


def manifest_path(document: Path) -> Path:
    return document.with_suffix(".toml")


def read_manifest(document: Path) -> DocumentManifest:
    path = manifest_path(document)
    if not path.exists():
        raise MissingManifest(
            f"{document.name} has no manifest entry: create {path.name} beside it, for example:\n"
            + TEMPLATE.format(stem=re.sub(r"[^a-z0-9]+", "-", document.stem.lower()).strip("-"))
        )
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidManifest(f"{path.name}: not valid TOML ({exc})") from exc
    try:
        return DocumentManifest.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise InvalidManifest(f"{path.name}: {problems}") from exc


def document_files(paths: list[Path]) -> list[Path]:
    """The document files named, expanding folders; TOML files are manifests, not documents."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in SUPPORTED))
        elif p.exists():
            out.append(p)
        else:
            raise MissingManifest(f"{p}: no such file or folder")
    return out


def describe(document: Path) -> CorpusDocument:
    manifest = read_manifest(document)
    digest = hashlib.sha256(document.read_bytes())
    digest.update(manifest.model_dump_json().encode())
    return CorpusDocument(path=document, manifest=manifest, content_hash=digest.hexdigest())


def check_unique(documents: list[CorpusDocument]) -> None:
    seen: dict[str, Path] = {}
    for d in documents:
        if d.manifest.id in seen:
            raise InvalidManifest(
                f"duplicate document id '{d.manifest.id}' in {seen[d.manifest.id].name} and {d.path.name}"
            )
        seen[d.manifest.id] = d.path
