"""Document administration (admin role): upload one, follow its ingest, see its passages, remove one."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from api.deps import RetrieverDep, SettingsDep
from api.security import audit, require
from safeguide.documents import IngestJobs, UploadTooLarge, remove_document, stage_upload
from safeguide.errors import InvalidQuery

router = APIRouter(prefix="/api/admin", tags=["documents"], dependencies=[Depends(require("admin"))])


def _jobs(request: Request) -> IngestJobs:
    jobs: IngestJobs = request.app.state.ingest_jobs
    return jobs


async def _body(request: Request, limit: int) -> bytes:
    """The request body, refused as soon as it passes `limit` (never read whole into memory first)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise UploadTooLarge(f"the upload is {declared} bytes; the limit is {limit} bytes")
    data = bytearray()
    async for part in request.stream():
        data += part
        if len(data) > limit:
            raise UploadTooLarge(f"the upload is over the limit of {limit} bytes")
    return bytes(data)


@router.post("/documents", status_code=202)
async def upload(
    request: Request,
    settings: SettingsDep,
    filename: Annotated[str, Query(min_length=1, max_length=200)],
    id: Annotated[str, Query(min_length=2, max_length=80)],
    title: Annotated[str, Query(max_length=300)] = "",
    label: Annotated[str, Query(max_length=120)] = "",
    kind: Annotated[str, Query(max_length=40)] = "local procedure",
    edition: Annotated[str, Query(max_length=10)] = "",
    authority: Annotated[str, Query(max_length=60)] = "",
    published: Annotated[str, Query(max_length=20)] = "",
    source: Annotated[str, Query(max_length=300)] = "",
) -> JSONResponse:
    """The file is the request body; its details are the query. Checked and parsed before anything is
    written; then ingested in the background (202 with the job to follow)."""
    data = await _body(request, settings.max_upload_bytes)
    fields = {
        "id": id, "title": title, "label": label, "kind": kind, "edition": edition,
        "authority": authority, "published": published, "source": source,
    }  # fmt: skip
    manifest, passages = await asyncio.to_thread(
        stage_upload,
        data,
        filename,
        fields,
        settings.corpus_dir,
        max_bytes=settings.max_upload_bytes,
        max_chars=settings.max_paragraph_chars,
        min_fragment=settings.min_fragment_chars,
        vocabulary=settings.vocabulary(),
    )
    job = _jobs(request).submit(f"add {manifest.id}")
    audit(request, "document.add", manifest.id, filename=filename, bytes=len(data), passages=passages)
    return JSONResponse({"document": manifest.model_dump(), "passages": passages, "job": job.public()}, 202)


@router.delete("/documents/{doc_id}", status_code=202)
def remove(doc_id: str, request: Request, settings: SettingsDep) -> dict[str, Any]:
    """Move the document aside (to data/removed/) and ingest again without it."""
    kept = remove_document(doc_id, settings.corpus_dir, settings.data_dir / "removed")
    job = _jobs(request).submit(f"remove {doc_id}")
    audit(request, "document.remove", doc_id, kept_in=str(kept))
    return {"removed": doc_id, "kept_in": str(kept), "job": job.public()}


@router.get("/jobs")
def jobs(request: Request) -> dict[str, Any]:
    return {"jobs": [j.public() for j in _jobs(request).all()]}


@router.get("/jobs/{job_id}")
def job(job_id: str, request: Request) -> dict[str, Any]:
    found = _jobs(request).get(job_id)
    if found is None:
        raise InvalidQuery(f"no ingest job '{job_id}' in this server process")
    return found.public()


@router.get("/documents/{doc_id}/passages")
def passages(doc_id: str, retriever: RetrieverDep) -> dict[str, Any]:
    """The document's passages in the serving index: paragraph number, citation label, heading, text."""
    reader = retriever.reader()
    rows = [
        {
            "paragraph": m.get("paragraph") or None,
            "citation": m.get("citation"),
            "heading": m.get("heading"),
            "text": t,
        }
        for t, m in zip(reader.texts, reader.metas, strict=True)
        if m.get("doc_id") == doc_id
    ]
    if not rows:
        raise InvalidQuery(f"no document '{doc_id}' in the serving index")
    return {"doc_id": doc_id, "passages": rows}
