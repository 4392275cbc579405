"""An uploaded document: checked and parsed aside, then placed in the corpus folder with its manifest."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ingest.manifest import DocumentManifest, describe, document_files, read_manifest
from ingest.store import parse_document
from ingest.timescale_extract import Vocabulary
from safeguide.errors import CorpusError, InvalidManifest, UnsupportedDocument

FIELDS = (
    "id",
    "title",
    "label",
    "kind",
    "edition",
    "authority",
    "published",
    "in_force",
    "numbering",
    "source",
)


class DuplicateDocument(CorpusError):
    """The corpus already holds a document with this id or these exact bytes (409)."""


class UploadTooLarge(CorpusError):
    """Over the upload size limit (413)."""


def sniff(data: bytes, filename: str) -> str:
    """The document's kind from its bytes (never from its name alone): .pdf, .docx, .md or .txt."""
    named = Path(filename or "").suffix.lower()
    if data.startswith(b"%PDF-"):
        kind = ".pdf"
    elif data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                if "word/document.xml" not in z.namelist():
                    raise UnsupportedDocument(f"{filename}: a zip file, but not a Word document (.docx)")
        except zipfile.BadZipFile as exc:
            raise UnsupportedDocument(f"{filename}: a damaged zip or Word file") from exc
        kind = ".docx"
    elif b"\x00" in data[:8192]:
        raise UnsupportedDocument(f"{filename}: a binary file of a kind safeguide cannot read")
    else:
        kind = ".md" if named == ".md" else ".txt"
    if named and named not in (".txt", ".md", ".pdf", ".docx"):
        raise UnsupportedDocument(
            f"{filename}: '{named}' files are not supported: upload PDF, DOCX, TXT or MD"
        )
    if named in (".pdf", ".docx") and named != kind:
        raise UnsupportedDocument(f"{filename}: named {named} but its contents are not a {named[1:].upper()}")
    return kind


def _toml(manifest: DocumentManifest) -> str:
    """The manifest as TOML (JSON's string and list syntax is valid TOML for these fields)."""
    lines = ["# Manifest written by the upload page."]
    for key, value in manifest.model_dump().items():
        if value in ("", []):
            continue
        lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def stage_upload(
    data: bytes,
    filename: str,
    fields: dict[str, Any],
    corpus_dir: Path,
    *,
    max_bytes: int,
    max_chars: int,
    min_fragment: int,
    vocabulary: Vocabulary | None,
) -> tuple[DocumentManifest, int]:
    """Check an upload and put it in `corpus_dir`; returns its manifest and how many passages it gives.
    Any failure raises with the reason, and then nothing has been written to the corpus folder."""
    if not data:
        raise UnsupportedDocument(f"{filename or 'the upload'}: the file is empty")
    if len(data) > max_bytes:
        raise UploadTooLarge(f"{filename}: {len(data)} bytes is over the upload limit of {max_bytes} bytes")
    kind = sniff(data, filename)
    try:
        manifest = DocumentManifest(
            **{k: v for k, v in fields.items() if k in FIELDS and v not in (None, "")}
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InvalidManifest(f"the document's details are incomplete: {problems}") from exc
    digest = hashlib.sha256(data).hexdigest()
    for existing in document_files([corpus_dir]) if corpus_dir.exists() else []:
        held = read_manifest(existing)
        if held.id == manifest.id:
            raise DuplicateDocument(f"a document with id '{manifest.id}' is already held ({existing.name})")
        if hashlib.sha256(existing.read_bytes()).hexdigest() == digest:
            raise DuplicateDocument(f"this file is already held, as '{held.id}' ({existing.name})")
    target = corpus_dir / f"{manifest.id}{kind}"
    with tempfile.TemporaryDirectory(prefix="safeguide-upload-") as tmp:
        staged = Path(tmp) / target.name
        staged.write_bytes(data)
        staged.with_suffix(".toml").write_text(_toml(manifest), encoding="utf-8")
        try:  # encrypted, corrupt or textless files fail here, before anything is written
            parsed = parse_document(
                describe(staged),
                max_bytes=max_bytes,
                max_chars=max_chars,
                min_fragment=min_fragment,
                vocabulary=vocabulary,
            )
        except CorpusError as exc:  # said of the file the user chose, not of our staged copy
            raise type(exc)(str(exc).replace(target.name, filename or target.name)) from exc
        corpus_dir.mkdir(parents=True, exist_ok=True)
        manifest_tmp = corpus_dir / f".{manifest.id}.toml.part"
        doc_tmp = corpus_dir / f".{target.name}.part"
        try:
            shutil.copyfile(staged.with_suffix(".toml"), manifest_tmp)
            shutil.copyfile(staged, doc_tmp)
            manifest_tmp.replace(target.with_suffix(".toml"))  # the manifest first: a document never
            doc_tmp.replace(target)  # appears without one
        except BaseException:
            target.with_suffix(".toml").unlink(missing_ok=True)
            raise
        finally:
            manifest_tmp.unlink(missing_ok=True)
            doc_tmp.unlink(missing_ok=True)
    return manifest, len(parsed.chunks)


def remove_document(doc_id: str, corpus_dir: Path, removed_dir: Path) -> Path:
    """Move the document with this id and its manifest into `removed_dir/<time>/` (kept, not deleted)."""
    for path in document_files([corpus_dir]):
        if read_manifest(path).id == doc_id:
            folder = removed_dir / datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
            folder.mkdir(parents=True, exist_ok=True)
            shutil.move(str(path), folder / path.name)  # the document first: a manifest alone is ignored
            shutil.move(str(path.with_suffix(".toml")), folder / path.with_suffix(".toml").name)
            return folder
    raise InvalidManifest(f"no document '{doc_id}' in {corpus_dir}")
