"""FastAPI application: health, search and documents. Start with `safeguide serve`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from api.admin import router as admin_router
from api.ask import router as ask_router
from api.compare import router as compare_router
from api.deps import RetrieverDep, SettingsDep
from api.documents import router as documents_router
from api.quiz import router as quiz_router
from api.security import browser_sign_in, build_access, require, secure
from api.timescales import router as timescales_router
from safeguide.access import NotPermitted, NotSignedIn, UserStore
from safeguide.access.audit import AuditLog
from safeguide.access.oidc import SignInUnavailable
from safeguide.chat.conversations import ConversationStore, UnknownConversation
from safeguide.documents import DuplicateDocument, IngestJobs, UploadTooLarge
from safeguide.errors import (
    IndexNotReady,
    InvalidManifest,
    InvalidQuery,
    ModelUnavailable,
    SafeguideError,
    StoreUnavailable,
    UnsupportedDocument,
)
from safeguide.models import build_model, close_model
from safeguide.quiz.builder import QuizBuilder
from safeguide.quiz.questions import QuizError
from safeguide.quiz.store import QuizStore, UnknownQuiz
from safeguide.retrieval.hybrid import Filters, PassageOut
from safeguide.retrieval.tuning import TUNED_DIR, tuned_key
from safeguide.services import (
    BackgroundTuning,
    build_chain,
    build_retriever,
    build_rules,
    documents_status,
    ingest_paths,
)
from safeguide.settings import Settings, get_settings
from safeguide.timescales.review import ReviewStore, UnknownStatement
from safeguide.timescales.rules import UnknownTimescale

STATIC = Path(__file__).resolve().parent / "static"
RETENTION_EVERY_SECONDS = 3600
log = logging.getLogger(__name__)


class SearchRequest(BaseModel):
    query: str
    k: int = 5
    edition: str | None = None
    authority: str | None = None
    doc_id: str | None = None


class SearchResponse(BaseModel):
    results: list[PassageOut] = Field(default_factory=list)


async def _keep_retention(conversations: ConversationStore, settings: Settings) -> None:
    """Delete conversations older than the retention period now and every hour (in each worker: a
    second worker finds nothing left to delete)."""
    while True:
        cutoff = datetime.now(UTC) - timedelta(days=settings.conversation_retention_days)
        try:
            gone = await asyncio.to_thread(conversations.purge_before, cutoff)
            if gone:
                log.info("retention: deleted %d conversation(s) unused since %s", gone, cutoff.date())
        except Exception:
            log.exception("retention: the purge failed; it will be tried again")
        await asyncio.sleep(RETENTION_EVERY_SECONDS)


RULES_CHECK_SECONDS = 2.0


class RulesKeeper:
    """Keeps a worker's timescale rules in step with the serving build and the rule reviews. `reload()`
    is called where this worker changed either (an ingest job, a review); `watch()` catches changes made
    elsewhere (another worker, the CLI) within RULES_CHECK_SECONDS. Each change is loaded once."""

    def __init__(self, app: FastAPI, settings: Settings) -> None:
        from ingest.store import IndexLocation

        self.app, self.settings = app, settings
        self.location = IndexLocation(settings.index_root, settings.chroma_url)
        self.seen = self.key()

    def key(self) -> tuple[str | None, int]:
        build = self.location.current_build()
        return (build.name if build else None, self.app.state.reviews.version())

    def reload(self) -> None:
        key = self.key()  # read first: a change made while loading is caught by the next check
        self.app.state.rules.refresh(build_rules(self.settings, db=self.app.state.db))
        self.seen = key

    async def watch(self) -> None:
        while True:
            await asyncio.sleep(RULES_CHECK_SECONDS)
            try:
                if await asyncio.to_thread(self.key) != self.seen:
                    await asyncio.to_thread(self.reload)
                    log.info("timescale rules reloaded (build %s, review %d)", *self.seen)
            except Exception:
                log.exception("could not reload the timescale rules; the ones in use stay")


def _ingest(settings: Settings, embedder: Any, tuning: BackgroundTuning, progress: Any) -> dict[str, Any]:
    """The corpus folder ingested into a new build, which then replaces the serving one; the embedder is
    tuned on it in a child process, not in this one, which goes on answering."""
    report = ingest_paths(settings, [settings.corpus_dir], embedder, progress, tune=False)
    summary = (
        f"added {', '.join(report.added) or 'none'}, removed {', '.join(report.removed) or 'none'}; "
        f"{report.chunks} passages in the index ({report.seconds:.1f} s)"
    )
    if tuning.start():
        summary += "; the embedder is being tuned in the background (the hybrid order until it is done)"
    return {"summary": summary, "added": report.added, "removed": report.removed, "chunks": report.chunks}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        # Route handlers run in AnyIO's thread pool (40 threads by default), each thread with its own
        # buffers in spaCy, torch and the allocator; on 2 cores more than a few only cost memory.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.request_threads
        app.state.retriever = build_retriever(settings)
        # One pool of connections for every store; its tables are brought up to date first.
        app.state.db = db = settings.open_database()
        app.state.rules = build_rules(settings, db=db)  # a broken rules file stops start-up with its message
        app.state.model = build_model(settings)
        app.state.chain = build_chain(settings, app.state.retriever, app.state.rules, app.state.model)
        app.state.conversations = ConversationStore(db)
        app.state.comparer = app.state.chain.comparer
        # Training questions come from reviewed rules only, never from timescales not yet reviewed.
        app.state.quiz_builder = QuizBuilder(
            app.state.retriever.reader, app.state.rules.reviewed(), app.state.comparer, app.state.chain.model
        )
        app.state.quizzes = QuizStore(db)
        app.state.reviews = ReviewStore(db)
        app.state.users = UserStore(db)
        app.state.access = build_access(settings, app.state.users)
        app.state.audit = AuditLog(db)
        retention = asyncio.create_task(_keep_retention(app.state.conversations, settings))
        app.state.rules_keeper = RulesKeeper(app, settings)
        app.state.tuning = tuning = BackgroundTuning(settings)
        freshness = asyncio.create_task(app.state.rules_keeper.watch())
        app.state.ingest_jobs = IngestJobs(
            db,
            lambda progress: _ingest(settings, app.state.retriever.embedder, app.state.tuning, progress),
            app.state.rules_keeper.reload,  # the new documents' own timescales, at once
        )
        # Open the index now so the first request is fast; a missing index is reported by /healthz.
        with contextlib.suppress(IndexNotReady, StoreUnavailable):
            app.state.retriever.reader()
        # Load the input checks (spaCy, the names, the classifiers; a few seconds) now, not on the first
        # question, which may be a child in danger.
        app.state.chain.safety()
        # A build served without its tuned embedder (`safeguide ingest --tune-later`, as `make run` does,
        # or a tuning stopped with the last server): tuned now, behind the answers.
        tuning.start()
        yield
        app.state.ingest_jobs.close()
        tuning.stop()
        for task in (retention, freshness):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        db.close()
        close_model(app.state.model)

    app = FastAPI(title="safeguide", version="0.1.0", lifespan=lifespan)
    secure(app, settings)
    practitioner = [Depends(require("practitioner"))]

    @app.exception_handler(SafeguideError)
    async def _typed_error(request: Request, exc: SafeguideError) -> JSONResponse:
        status = {
            InvalidQuery: 422,
            IndexNotReady: 503,
            StoreUnavailable: 503,
            ModelUnavailable: 503,
            UnknownTimescale: 404,
            UnknownQuiz: 404,
            UnknownConversation: 404,
            UnknownStatement: 404,
            QuizError: 422,
            NotSignedIn: 401,
            NotPermitted: 403,
            SignInUnavailable: 503,
            UnsupportedDocument: 422,
            InvalidManifest: 422,
            DuplicateDocument: 409,
            UploadTooLarge: 413,
        }.get(type(exc), 500 if type(exc) is SafeguideError else 400)
        body: dict[str, Any] = {"error": type(exc).__name__, "detail": str(exc)}
        if exc.notices:
            body["notices"] = exc.notices  # the 999 notice survives any error after danger was found
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'] if p != 'body')}: {e['msg']}" for e in exc.errors()
        )
        return JSONResponse({"error": "InvalidRequest", "detail": problems}, status_code=422)

    @app.get("/healthz")
    def healthz(request: Request, retriever: RetrieverDep) -> dict[str, Any]:
        reader = retriever.reader()  # raises IndexNotReady -> 503
        reader.ping()  # a Chroma server that stopped answering -> 503
        store = f"chroma server {reader.chroma_url}" if reader.chroma_url else "embedded"
        database = request.app.state.db
        database.ping()  # PostgreSQL (or the SQLite file) not answering -> 503
        if tuned_key(reader.build / TUNED_DIR) is not None:
            tuned = "ready"
        elif request.app.state.tuning.running():
            tuned = "tuning in the background"
        else:
            tuned = "none"
        return {
            "status": "ok",
            "build": reader.build.name,
            "chunks": len(reader),
            "store": store,
            "database": database.url.get_backend_name(),
            "tuned_embedder": tuned,
        }

    @app.post("/api/search", response_model=SearchResponse, dependencies=practitioner)
    def search(body: SearchRequest, retriever: RetrieverDep) -> dict[str, Any]:
        results = retriever.search(
            body.query, k=body.k, filters=Filters(body.edition, body.authority, body.doc_id)
        )
        return {"results": [r.public() for r in results]}

    @app.get("/api/documents", dependencies=practitioner)
    def documents(settings: SettingsDep) -> dict[str, Any]:
        return documents_status(settings)

    app.include_router(timescales_router, dependencies=practitioner)  # review routes: admin (their own)
    app.include_router(ask_router, dependencies=practitioner)
    app.include_router(compare_router, dependencies=practitioner)
    app.include_router(quiz_router, dependencies=[Depends(require("trainer"))])
    app.include_router(admin_router)  # admin only (its own dependency)
    app.include_router(documents_router)  # admin only (its own dependency)

    @app.get("/api/whoami")
    def whoami(request: Request) -> dict[str, Any]:
        """Who the token says the caller is (401 for a bad token); the page shows it after sign-in."""
        principal = request.app.state.access.principal(request.headers.get("authorization"))
        access = request.app.state.access
        if principal is None:
            return {"signed_in": False, "anonymous_ask": access.anonymous_ask}
        return {"signed_in": True, "name": principal.name, "role": principal.role, "via": principal.via}

    @app.get("/api/auth/config")
    def auth_config(request: Request) -> dict[str, Any]:
        """How the page signs in: pasted tokens (local accounts), or the council's provider."""
        return browser_sign_in(settings, request.app.state.access)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    @app.get("/admin", include_in_schema=False)
    def admin_page() -> FileResponse:
        return FileResponse(STATIC / "admin.html", headers={"Cache-Control": "no-store"})

    @app.get("/review", include_in_schema=False)
    def review_page() -> FileResponse:
        return FileResponse(STATIC / "review.html", headers={"Cache-Control": "no-store"})

    @app.get("/api/status")
    def status(request: Request) -> dict[str, Any]:
        """The mode configured, the model behind it, whether it is up and why not, how fast it answered."""
        chain = request.app.state.chain
        notice = chain.fallback_notice
        model: dict[str, Any] | None = None
        describe = getattr(chain.model, "status", None)
        if describe is not None:
            model = describe()
            server = model.get("server")
            if server and server["state"] != "ready":
                notice = (
                    f"The local model is {server['state']} ({server['reason'] or 'loading'}); answers "
                    "quote the guidance until it is back."
                )
        return {
            "mode": chain.mode,
            "model": chain.model.name if chain.model else None,
            "model_status": model,
            "notice": notice,
        }

    return app
