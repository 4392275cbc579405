"""Background ingests, one at a time, each with a state and its progress for the page to show."""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]


@dataclass
class Job:
    id: str
    what: str  # "add wt2018-local" / "remove hampshire-2011"
    state: str = "queued"  # queued | running | done | failed
    done: int = 0
    total: int = 0
    message: str = ""
    started: float = 0.0
    finished: float = 0.0
    report: dict[str, Any] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        return asdict(self)


class IngestJobs:
    """`run(progress)` is the ingest (it returns a summary); `after()` runs once it succeeds."""

    def __init__(self, run: Callable[[Progress], dict[str, Any]], after: Callable[[], None]) -> None:
        self._run, self._after = run, after
        self._jobs: dict[str, Job] = {}
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._lock = threading.Lock()
        self._worker = threading.Thread(target=self._work, name="safeguide-ingest", daemon=True)
        self._worker.start()

    def submit(self, what: str) -> Job:
        job = Job(uuid.uuid4().hex[:12], what)
        with self._lock:
            self._jobs[job.id] = job
        self._queue.put(job)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def all(self) -> list[Job]:
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.started or float("inf"), reverse=True)

    def close(self) -> None:
        self._queue.put(None)

    def _work(self) -> None:
        while (job := self._queue.get()) is not None:
            job.state, job.started = "running", time.time()

            def progress(done: int, total: int, job: Job = job) -> None:
                job.done, job.total = done, total

            try:
                job.report = self._run(progress)
                self._after()
                job.state, job.message = "done", job.report.get("summary", "done")
            except Exception as exc:  # the page shows why; the serving index is unchanged
                log.exception("ingest job %s (%s) failed", job.id, job.what)
                job.state, job.message = "failed", str(exc) or type(exc).__name__
            job.finished = time.time()
