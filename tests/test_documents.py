"""Documents added and removed by an admin: every bad upload refused with nothing written, a good one
ingested in the background while the old index serves, then searchable; removal moves it aside."""

from __future__ import annotations

import io
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from safeguide.documents import DuplicateDocument, UploadTooLarge, remove_document, stage_upload
from safeguide.errors import InvalidManifest, UnsupportedDocument
from tests.conftest import CORPUS

PROCEDURE = b"""# Northfold child protection procedures

## 1 Conferences

1.1 The initial child protection conference in Northfold is held within 12 working days of the
strategy discussion at which a section 47 enquiry was agreed.

1.2 The conference chair is independent of the line management of the case.

## 2 Core groups

2.1 The core group meets within 8 working days of the initial child protection conference.
"""
FIELDS = {
    "id": "northfold-procedures",
    "title": "Northfold child protection procedures",
    "label": "Northfold procedures",
    "kind": "local procedure",
    "edition": "2023",
    "authority": "northfold",
}
LIMITS: dict[str, Any] = {"max_bytes": 1_000_000, "max_chars": 1200, "min_fragment": 40, "vocabulary": None}


def _pdf(encrypt: bool = False) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    if encrypt:
        writer.encrypt("secret")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_a_good_upload_is_placed_with_its_manifest(tmp_path: Path) -> None:
    manifest, passages = stage_upload(PROCEDURE, "northfold.md", FIELDS, tmp_path, **LIMITS)
    assert manifest.id == "northfold-procedures" and passages == 3
    assert _listing(tmp_path) == ["northfold-procedures.md", "northfold-procedures.toml"]
    from ingest.manifest import read_manifest

    assert read_manifest(tmp_path / "northfold-procedures.md").authority == "northfold"


@pytest.mark.parametrize(
    ("data", "filename", "fields", "error", "message"),
    [
        (b"", "x.md", FIELDS, UnsupportedDocument, "empty"),
        (b"\x00\x01\x02binary" * 10, "x.txt", FIELDS, UnsupportedDocument, "binary"),
        (PROCEDURE, "x.pdf", FIELDS, UnsupportedDocument, "not a PDF"),
        (b"%PDF-1.4\nthis is not really a pdf", "x.pdf", FIELDS, UnsupportedDocument, "pdf"),
        (b"PK\x03\x04garbage", "x.docx", FIELDS, UnsupportedDocument, "damaged"),
        (PROCEDURE, "x.exe", FIELDS, UnsupportedDocument, "not supported"),
        (PROCEDURE, "x.md", {**FIELDS, "kind": "novel"}, InvalidManifest, "kind"),
        (PROCEDURE, "x.md", {**FIELDS, "id": "Bad Id!"}, InvalidManifest, "id"),
        (PROCEDURE, "x.md", {k: v for k, v in FIELDS.items() if k != "title"}, InvalidManifest, "title"),
        (b"x" * 1_000_001, "x.txt", FIELDS, UploadTooLarge, "limit"),
        (b"\n\n   \n", "x.txt", FIELDS, UnsupportedDocument, "no text"),
    ],
)
def test_bad_uploads_are_refused_with_nothing_written(
    tmp_path: Path, data: bytes, filename: str, fields: dict[str, str], error: type, message: str
) -> None:
    before = _listing(tmp_path)
    with pytest.raises(error, match=f"(?i){message}"):
        stage_upload(data, filename, fields, tmp_path, **LIMITS)
    assert _listing(tmp_path) == before


def test_encrypted_and_empty_pdfs_are_refused(tmp_path: Path) -> None:
    for data, why in ((_pdf(encrypt=True), "encrypted"), (_pdf(), "no text")):
        with pytest.raises(UnsupportedDocument, match=f"(?i){why}"):
            stage_upload(data, "x.pdf", FIELDS, tmp_path, **LIMITS)
    assert _listing(tmp_path) == []


def test_duplicates_are_refused(tmp_path: Path) -> None:
    stage_upload(PROCEDURE, "northfold.md", FIELDS, tmp_path, **LIMITS)
    with pytest.raises(DuplicateDocument, match="already held"):
        stage_upload(PROCEDURE + b"\n1.3 More.", "n2.md", FIELDS, tmp_path, **LIMITS)  # the same id
    with pytest.raises(DuplicateDocument, match="already held, as 'northfold-procedures'"):
        stage_upload(PROCEDURE, "copy.md", {**FIELDS, "id": "northfold-copy"}, tmp_path, **LIMITS)
    assert len(_listing(tmp_path)) == 2


def test_removal_moves_the_document_aside(tmp_path: Path) -> None:
    corpus, removed = tmp_path / "corpus", tmp_path / "removed"
    stage_upload(PROCEDURE, "northfold.md", FIELDS, corpus, **LIMITS)
    kept = remove_document("northfold-procedures", corpus, removed)
    assert _listing(corpus) == [] and _listing(kept) == [
        "northfold-procedures.md",
        "northfold-procedures.toml",
    ]
    with pytest.raises(InvalidManifest, match="no document"):
        remove_document("northfold-procedures", corpus, removed)


# ---------------------------------------------------------------------------------- through the API


def _private_copy(root: Path, corpus_index: Path) -> tuple[Path, dict[str, dict[str, str]], dict[str, str]]:
    """A corpus and data folder of the server's own (it may change them), users of each role, its env."""
    from tests.servers import make_users

    corpus, data = root / "corpus", root / "data"
    shutil.copytree(CORPUS, corpus)
    shutil.copytree(corpus_index / "index", data / "index")
    env = {
        "SAFEGUIDE_DATA_DIR": str(data),
        "SAFEGUIDE_CORPUS_DIR": str(corpus),
        "SAFEGUIDE_LLM_BACKEND": "extractive",
    }
    return corpus, make_users(data), env


@pytest.fixture(scope="module")
def admin_server(tmp_path_factory: pytest.TempPathFactory, corpus_index: Path) -> Iterator[dict[str, Any]]:
    from tests.servers import running_server

    root = tmp_path_factory.mktemp("uploads")
    corpus, headers, env = _private_copy(root, corpus_index)
    with running_server(env, root / "server.log") as url:
        yield {"url": url, "corpus": corpus, "headers": headers, "log": root / "server.log"}


def _wait(url: str, job: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        now = httpx.get(f"{url}/api/admin/jobs/{job['id']}", headers=headers).json()
        if now["state"] in ("done", "failed"):
            return dict(now)
        time.sleep(0.5)
    raise AssertionError(f"the ingest job did not finish: {now}")


@pytest.mark.slow
def test_upload_ingest_search_and_remove(admin_server: dict[str, Any]) -> None:
    url, corpus, who = admin_server["url"], admin_server["corpus"], admin_server["headers"]
    params = {**FIELDS, "filename": "northfold.md"}
    before = _listing(corpus)
    assert httpx.post(f"{url}/api/admin/documents", params=params, content=PROCEDURE).status_code == 401
    wrong = httpx.post(f"{url}/api/admin/documents", params=params, content=PROCEDURE, headers=who["trainer"])
    assert wrong.status_code == 403
    bad = httpx.post(
        f"{url}/api/admin/documents", params={**params, "filename": "x.pdf"}, content=b"%PDF-1.4 junk",
        headers=who["admin"],
    )  # fmt: skip
    assert bad.status_code == 422 and "x.pdf" in bad.json()["detail"]
    assert _listing(corpus) == before  # nothing written by any refusal
    made = httpx.post(f"{url}/api/admin/documents", params=params, content=PROCEDURE, headers=who["admin"])
    assert made.status_code == 202, made.text
    assert made.json()["passages"] == 3
    again = httpx.post(f"{url}/api/admin/documents", params=params, content=PROCEDURE, headers=who["admin"])
    assert again.status_code == 409
    done = _wait(url, made.json()["job"], who["admin"])
    assert done["state"] == "done", done
    hits = httpx.post(
        f"{url}/api/search", json={"query": "northfold initial conference 12 working days", "k": 3}
    ).json()["results"]
    assert hits[0]["doc_id"] == "northfold-procedures" and hits[0]["paragraph"] == "1.1"
    passages = httpx.get(f"{url}/api/admin/documents/northfold-procedures/passages", headers=who["admin"])
    assert [p["paragraph"] for p in passages.json()["passages"]] == ["1.1", "1.2", "2.1"]
    # its own timescale is read at ingest and used for its area at once
    ask = {"question": "the strategy discussion was on Monday 2 March 2026, when is the ICPC due?",
           "authority": "northfold", "today": "2026-03-03"}  # fmt: skip
    answer = httpx.post(f"{url}/api/ask", json=ask, timeout=60).json()
    assert [t["due"] for t in answer["timescales"]] == ["2026-03-18"], answer["answer"]
    trail = httpx.get(f"{url}/api/audit", headers=who["admin"]).json()["entries"]
    assert ("document.add", "northfold-procedures", "test-admin") in {
        (e["action"], e["target"], e["who"]) for e in trail
    }
    gone = httpx.delete(f"{url}/api/admin/documents/northfold-procedures", headers=who["admin"])
    assert gone.status_code == 202
    assert _wait(url, gone.json()["job"], who["admin"])["state"] == "done"
    ids = {d["id"] for d in httpx.get(f"{url}/api/documents").json()["documents"]}
    assert "northfold-procedures" not in ids and _listing(corpus) == before


@pytest.mark.slow
def test_the_documents_page_adds_and_removes_a_document(admin_server: dict[str, Any], tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    from tests.test_web import CHROMIUM

    if not shutil.which(CHROMIUM):
        pytest.fail("Chromium is missing: `make test` installs the Debian package `chromium`")
    url, who = admin_server["url"], admin_server["headers"]
    upload = tmp_path / "eastmoor.md"
    upload.write_bytes(PROCEDURE.replace(b"Northfold", b"Eastmoor"))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        page = browser.new_page()
        page.set_default_timeout(120_000)
        page.on("dialog", lambda dialog: dialog.accept())
        page.goto(url + "/admin")
        page.fill("#signin-token", who["admin"]["Authorization"].removeprefix("Bearer "))
        page.click("#signin")
        page.locator("#signin-status", has_text="Signed in as test-admin").wait_for()
        page.set_input_files("#up-file", str(upload))
        for field, value in (("id", "eastmoor-procedures"), ("title", "Eastmoor procedures"),
                             ("label", "Eastmoor procedures"), ("authority", "eastmoor")):  # fmt: skip
            page.fill(f"#up-{field}", value)
        page.click("#upload")
        page.locator("#upload-status", has_text="Done: add eastmoor-procedures").wait_for()
        row = page.locator('li[data-document="eastmoor-procedures"]')
        assert "3 passages" in row.inner_text()
        row.get_by_role("button", name="Passages").click()
        page.locator("#passages li", has_text="within 12 working days").wait_for()
        page.screenshot(path=str(Path("test-output") / "web-documents.png"), full_page=True)
        row.get_by_role("button", name="Remove").click()
        page.locator("#upload-status", has_text="Done: remove eastmoor-procedures").wait_for()
        assert page.locator('li[data-document="eastmoor-procedures"]').count() == 0
        browser.close()


@pytest.mark.slow
def test_two_workers_share_jobs_and_rules(tmp_path: Path, corpus_index: Path) -> None:
    """With `serve --workers 2` nothing lives in one process: a job started through one worker is seen by
    whichever answers, and after the ingest every worker uses the new document's own rule."""
    from tests.servers import running_process

    _, who, env = _private_copy(tmp_path, corpus_index)
    with running_process(env, tmp_path / "server.log", timeout=180, args=("--workers", "2")) as (url, _):
        params = {**FIELDS, "filename": "northfold.md"}
        made = httpx.post(
            f"{url}/api/admin/documents", params=params, content=PROCEDURE, headers=who["admin"]
        )
        assert made.status_code == 202, made.text
        done = _wait(url, made.json()["job"], who["admin"])
        assert done["state"] == "done", done
        ask = {"question": "the strategy discussion was on Monday 2 March 2026, when is the ICPC due?",
               "authority": "northfold", "today": "2026-03-03"}  # fmt: skip
        deadline = time.monotonic() + 30
        while True:  # each worker reloads its rules within seconds of the new build
            dues = [
                [t["due"] for t in httpx.post(f"{url}/api/ask", json=ask, timeout=60).json()["timescales"]]
                for _ in range(6)
            ]
            if all(d == ["2026-03-18"] for d in dues) or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert all(d == ["2026-03-18"] for d in dues), dues
        for _ in range(6):  # any worker reports the job
            assert (
                httpx.get(f"{url}/api/admin/jobs/{done['id']}", headers=who["admin"]).json()["state"]
                == "done"
            )
    log = (tmp_path / "server.log").read_text()
    assert log.count("Started server process") == 2, log[-2000:]
