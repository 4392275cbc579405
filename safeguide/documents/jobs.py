"""Background ingests, one at a time per process, each with a state and its progress for the page.

Jobs are kept in SQLite (`data/jobs.sqlite3`), so that with several server workers the page can ask
any of them how a job is going; the index's own lock means only one ingest runs at a time on a machine
(a second fails at once, saying so, and the serving index is unchanged).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from safeguide.files import open_database

log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    what TEXT NOT NULL,
    state TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    total INTEGER NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    started REAL NOT NULL DEFAULT 0,
    finished REAL NOT NULL DEFAULT 0
);
"""
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
        self, path: Path, run: Callable[[Progress], dict[str, Any]], after: Callable[[], None]
    ) -> None:
        self._db = open_database(path, SCHEMA)
        self._lock = threading.Lock()
        self._run, self._after = run, after
        self._queue: queue.Queue[Job | None] = queue.Queue()
        # A job left queued or running by a process that has gone will never finish: say so.
        with self._lock:
            self._db.execute(
                "UPDATE jobs SET state = 'failed', message = 'the server stopped before it finished' "
                "WHERE state IN ('queued', 'running') AND created < ?",
                (time.time() - 24 * 3600,),
            )
        self._worker = threading.Thread(target=self._work, name="safeguide-ingest", daemon=True)
        self._worker.start()

    def _save(self, job: Job) -> None:
        with self._lock:
            self._db.execute(
                f"INSERT OR REPLACE INTO jobs ({', '.join(COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(COLUMNS))})",
                tuple(getattr(job, c) for c in COLUMNS),
            )

    def submit(self, what: str) -> Job:
        job = Job(uuid.uuid4().hex[:12], what)
        self._save(job)
        self._queue.put(job)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {', '.join(COLUMNS)} FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
        return Job(*row) if row else None

    def all(self, limit: int = 50) -> list[Job]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {', '.join(COLUMNS)} FROM jobs ORDER BY created DESC LIMIT ?", (limit,)
            ).fetchall()
        return [Job(*r) for r in rows]

    def close(self) -> None:
        self._queue.put(None)
        self._worker.join(timeout=5)
        with self._lock:
            self._db.close()

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
