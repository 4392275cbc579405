"""The local model in a process of its own: llama.cpp's OpenAI-compatible server (llama-cpp-python's
``llama_cpp.server``) on loopback, started, watched and restarted by ``ModelServer``.

Why a separate process: native code that crashes (a CPU path that segfaults in decode, an out-of-memory
kill) or hangs must never take the web app with it. The supervisor thread here:

- starts the server with a free loopback port and waits until its HTTP loop answers;
- probes it every ``probe_interval`` seconds on a route that does not touch the model (``/openapi.json``:
  the server's model routes share one lock, and a waiting request would interrupt a streamed answer);
- when the process exits, or stops answering probes, records why (exit status or signal, the last lines of
  its log), kills what is left of it, and starts it again after a back-off (1 s, 2 s, 4 s … at most
  ``max_backoff``); the back-off resets once a start has stayed up for ``stable_after`` seconds;
- meanwhile ``check()`` raises ``ModelUnavailable`` with the reason at once, so answers fall back to the
  extractive mode instead of waiting on a dead server.

The client side (``safeguide.models.providers.openai_compatible``, LangChain's ``ChatOpenAI``) is the
same one any OpenAI-compatible server is reached with; it calls ``check()`` before each request and
``suspect()`` when a request failed or timed out, which makes the supervisor probe at once instead of at
the next interval.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from safeguide.errors import ModelUnavailable
from safeguide.models.process import ServerProcess, describe_exit, free_loopback_port

__all__ = ["ModelServer", "ServerStatus", "describe_exit", "free_loopback_port"]

log = logging.getLogger("safeguide.models.server")

State = Literal["starting", "ready", "down", "stopped"]


@dataclass
class ServerStatus:
    state: State = "stopped"
    reason: str | None = None
    pid: int | None = None
    url: str | None = None
    restarts: int = 0
    cpu: str | None = None
    ready_at: float | None = None
    last_start_s: float | None = None
    history: deque[str] = field(default_factory=lambda: deque(maxlen=10))

    def public(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "reason": self.reason,
            "pid": self.pid,
            "url": self.url,
            "restarts": self.restarts,
            "cpu": self.cpu,
            "start_seconds": self.last_start_s,
            "up_seconds": round(time.monotonic() - self.ready_at, 1) if self.ready_at else None,
            "recent_failures": list(self.history),
        }


class ModelServer:
    """One supervised ``llama_cpp.server`` process. ``start()`` returns at once; ``wait_ready()`` waits."""

    def __init__(
        self,
        model_path: Path,
        *,
        log_path: Path,
        alias: str = "local",
        threads: int | None = None,
        n_ctx: int = 4096,
        port: int = 0,
        start_timeout: float = 180.0,
        probe_interval: float = 2.0,
        probe_timeout: float = 5.0,
        max_backoff: float = 60.0,
        stable_after: float = 60.0,
        python: str = sys.executable,
    ) -> None:
        if not model_path.is_file():
            raise ModelUnavailable(
                f"no model file at {model_path} (SAFEGUIDE_LLM_MODEL_PATH): run `safeguide models fetch`"
            )
        # One port for the supervisor's lifetime: clients keep the same URL across restarts.
        self.process = ServerProcess(
            model_path=model_path,
            log_path=log_path,
            port=port or free_loopback_port(),
            alias=alias,
            threads=threads or os.cpu_count() or 1,
            n_ctx=n_ctx,
            probe_timeout=probe_timeout,
            python=python,
        )
        self.model_path = model_path
        self.url = self.process.url
        self.start_timeout = start_timeout
        self.probe_interval = probe_interval
        self.probe_timeout = probe_timeout
        self.max_backoff = max_backoff
        self.stable_after = stable_after
        self._status = ServerStatus(url=self.url)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------------------------------ public

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def start(self) -> ModelServer:
        if self._thread is None:
            self._thread = threading.Thread(target=self._supervise, name="model-server", daemon=True)
            self._thread.start()
            atexit.register(self.stop)
        return self

    def wait_ready(self, timeout: float, give_up_on_failure: bool = False) -> bool:
        """Wait until the server is ready (True), or the time is up; with `give_up_on_failure`, also stop
        waiting when a start fails (the supervisor keeps trying in the background)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            failures = len(self._status.history)
        while time.monotonic() < deadline:
            if self._ready.wait(0.2):
                return True
            with self._lock:
                if give_up_on_failure and len(self._status.history) > failures:
                    return False
        return self._ready.is_set()

    def check(self) -> None:
        """Raise at once when the server is not ready, with the reason a user can read."""
        with self._lock:
            status = self._status
            if status.state == "ready":
                return
            why = status.reason or "it is starting"
        raise ModelUnavailable(f"the local model server is {status.state}: {why}")

    def suspect(self, reason: str) -> None:
        """A request failed or timed out: probe now rather than at the next interval."""
        log.warning("model request failed: %s; probing the model server", reason)
        self._wake.set()

    def status(self) -> dict[str, Any]:
        with self._lock:
            return self._status.public()

    @property
    def pid(self) -> int | None:
        return self._status.pid

    def stop(self) -> None:
        if self._stop.is_set() and self.process.pid is None:
            return
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.process.kill()
        with self._lock:
            self._status.state = "stopped"
            self._status.pid = None

    # ------------------------------------------------------------------------------------------ supervision

    def _supervise(self) -> None:
        backoff = 1.0
        while not self._stop.is_set():
            started = time.monotonic()
            reason = self._run_once()
            if self._stop.is_set():
                break
            self._ready.clear()
            with self._lock:
                self._status.state = "down"
                self._status.reason = reason
                self._status.pid = None
                self._status.ready_at = None
                self._status.history.append(f"{time.strftime('%H:%M:%S')} {reason}")
            if time.monotonic() - started >= self.stable_after:
                backoff = 1.0
            log.error("local model server down: %s; restarting in %.0f s", reason, backoff)
            if self._stop.wait(backoff):
                break
            backoff = min(backoff * 2, self.max_backoff)
            with self._lock:
                self._status.restarts += 1

    def _run_once(self) -> str:
        """Start the server, watch it until it fails; return why it failed."""
        t0 = time.monotonic()
        pid = self.process.spawn()
        with self._lock:
            self._status.state = "starting"
            self._status.reason = None
            self._status.pid = pid
        log.info("starting the local model server: pid %d, %s, %s", pid, self.url, self.model_path.name)
        try:
            failure = self._wait_started(t0)
            if failure:
                return failure
            elapsed = time.monotonic() - t0
            cpu = self.process.cpu_line()
            with self._lock:
                self._status.state = "ready"
                self._status.ready_at = time.monotonic()
                self._status.last_start_s = round(elapsed, 1)
                self._status.cpu = cpu
            self._ready.set()
            log.info(
                "local model ready in %.1f s: pid %d at %s/v1, model %s, %d threads; %s",
                elapsed,
                pid,
                self.url,
                self.model_path.name,
                self.process.threads,
                cpu or "CPU features not reported",
            )
            return self._watch()
        finally:
            self.process.kill()

    def _ended(self, how: str = "", wait: float = 0.0) -> str | None:
        """Why the process is gone, if it is."""
        code = self.process.exit_code(wait)
        if code is None:
            return None
        return f"the model process {describe_exit(code)}{how}{self.process.log_tail()}"

    def _wait_started(self, t0: float) -> str | None:
        while time.monotonic() - t0 < self.start_timeout:
            ended = self._ended(" while starting")
            if ended:
                return ended
            if self.process.answers():
                return None
            if self._stop.wait(0.25):
                return "stopped"
        return f"the model server did not start within {self.start_timeout:.0f} s{self.process.log_tail()}"

    def _watch(self) -> str:
        misses = 0
        while not self._stop.is_set():
            woken = self._wake.wait(self.probe_interval)
            self._wake.clear()
            ended = self._ended()
            if ended:
                return ended
            if self.process.answers():
                misses = 0
                continue
            # A process killed mid-answer closes its sockets a moment before it can be reaped: give it
            # that moment, so a crash is reported as the crash it was, not as a hang.
            ended = self._ended(wait=1.0)
            if ended:
                return ended
            misses += 1
            # One missed probe after a failed request, or two in a row otherwise, is a hang.
            if misses >= (1 if woken else 2):
                return (
                    f"the model process stopped answering (no reply within {self.probe_timeout:.0f} s); "
                    "it was stopped and will be restarted"
                )
        return "stopped"
