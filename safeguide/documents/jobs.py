"""Background ingests, one at a time per process, each with a state and its progress for the page.

Jobs are kept in the product database (`safeguide.database`), so that with several server workers the
page can ask any of them how a job is going; the index's own lock means only one ingest runs at a time on a
machine (a second fails at once, saying so, and the serving index is unchanged).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select, update

from safeguide.database import Database
from safeguide.database.tables import jobs

log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]

COLUMNS = ("id", "what", "state", "done", "total", "message", "created", "started", "finished")


@dataclass
class Job:
    id: str
    what: str  # "add wt2018-local" / "remove hampshire-2011"
    state: str = "queued"  # queued | running | done | failed
    done: int = 0
    total: int = 0
    message: str = ""
    created: float = field(default_factory=time.time)
    started: float = 0.0
    finished: float = 0.0

    def public(self) -> dict[str, Any]:
        return asdict(self)


class IngestJobs:
    """`run(progress)` is the ingest (it returns a summary); `after()` runs once it succeeds."""

    def __init__(
        self, db: Database, run: Callable[[Progress], dict[str, Any]], after: Callable[[], None]
    ) -> None:
        self._db = db
        self._run, self._after = run, after
        self._queue: queue.Queue[Job | None] = queue.Queue()
        # A job left queued or running by a process that has gone will never finish: say so.
        with self._db.write() as conn:
            conn.execute(
                update(jobs)
                .where(jobs.c.state.in_(("queued", "running")), jobs.c.created < time.time() - 24 * 3600)
                .values(state="failed", message="the server stopped before it finished")
            )
        self._worker = threading.Thread(target=self._work, name="safeguide-ingest", daemon=True)
        self._worker.start()

    def _save(self, job: Job) -> None:
        with self._db.write() as conn:
            self._db.upsert(conn, jobs, {c: getattr(job, c) for c in COLUMNS}, key=("id",))

    def submit(self, what: str) -> Job:
        job = Job(uuid.uuid4().hex[:12], what)
        self._save(job)
        self._queue.put(job)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._db.read() as conn:
            row = conn.execute(select(*(jobs.c[c] for c in COLUMNS)).where(jobs.c.id == job_id)).first()
        return Job(*row) if row else None

    def all(self, limit: int = 50) -> list[Job]:
        with self._db.read() as conn:
            rows = conn.execute(
                select(*(jobs.c[c] for c in COLUMNS)).order_by(jobs.c.created.desc()).limit(limit)
            ).all()
        return [Job(*r) for r in rows]

    def close(self) -> None:
        self._queue.put(None)
        self._worker.join(timeout=5)

    def _work(self) -> None:
        while (job := self._queue.get()) is not None:
            job.state, job.started = "running", time.time()
            self._save(job)
            last = [0.0]

            def progress(done: int, total: int, job: Job = job, last: list[float] = last) -> None:
                job.done, job.total = done, total
                if time.monotonic() - last[0] > 0.5 or done == total:  # not a write per batch
                    last[0] = time.monotonic()
                    self._save(job)

            try:
                report = self._run(progress)
                self._after()
                job.state, job.message = "done", str(report.get("summary", "done"))
            except Exception as exc:  # the page shows why; the serving index is unchanged
                log.exception("ingest job %s (%s) failed", job.id, job.what)
                job.state, job.message = "failed", str(exc) or type(exc).__name__
            job.finished = time.time()
            self._save(job)
