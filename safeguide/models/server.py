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
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx

from safeguide.errors import ModelUnavailable

log = logging.getLogger("safeguide.models.server")

State = Literal["starting", "ready", "down", "stopped"]
# What llama.cpp prints about the CPU it runs on, e.g. "CPU : SSE3 = 1 | AVX = 1 | AVX2 = 1 | ..."
SYSTEM_INFO = re.compile(r"^.*?(CPU\s*:.*)$")
ACCESS_LOG = re.compile(r'^INFO:\s+[\d.]+:\d+ - "')  # uvicorn's per-request lines say nothing of a crash


def describe_exit(code: int) -> str:
    """`-11` -> "killed by signal 11 (SIGSEGV)"; `1` -> "exit status 1"."""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = "unknown signal"
        return f"killed by signal {-code} ({name})"
    return f"exit status {code}"


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the model server gets SIGKILL when the thread that started it ends (even by SIGKILL)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def free_loopback_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
        self.model_path = model_path
        self.alias = alias
        self.log_path = log_path
        self.threads = threads or os.cpu_count() or 1
        self.n_ctx = n_ctx
        # One port for the supervisor's lifetime: clients keep the same URL across restarts.
        self.port = port or free_loopback_port()
        self.start_timeout = start_timeout
        self.probe_interval = probe_interval
        self.probe_timeout = probe_timeout
        self.max_backoff = max_backoff
        self.stable_after = stable_after
        self.python = python
        self.url = f"http://127.0.0.1:{self.port}"
        self._status = ServerStatus(url=self.url)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._ready = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
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
        if self._stop.is_set() and self._proc is None:
            return
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._kill()
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
        url = self.url
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        command = [
            self.python,
            "-m",
            "llama_cpp.server",
            "--model",
            str(self.model_path),
            "--model_alias",
            self.alias,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_ctx",
            str(self.n_ctx),
            "--n_threads",
            str(self.threads),
            "--n_threads_batch",
            str(self.threads),
            # One answer must never cancel another user's streamed answer (the server's default does).
            "--interrupt_requests",
            "False",
        ]
        t0 = time.monotonic()
        with open(self.log_path, "ab") as out:
            out.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(command)}\n".encode())
            out.flush()
            self._proc = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: a kill reaches every child
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
                env={**os.environ, "HF_HUB_OFFLINE": "1"},
            )
        with self._lock:
            self._status.state = "starting"
            self._status.reason = None
            self._status.pid = self._proc.pid
        log.info("starting the local model server: pid %d, %s, %s", self._proc.pid, url, self.model_path.name)
        try:
            failure = self._wait_started(url, t0)
            if failure:
                return failure
            elapsed = time.monotonic() - t0
            cpu = self._cpu_line()
            with self._lock:
                self._status.state = "ready"
                self._status.ready_at = time.monotonic()
                self._status.last_start_s = round(elapsed, 1)
                self._status.cpu = cpu
            self._ready.set()
            log.info(
                "local model ready in %.1f s: pid %d at %s/v1, model %s, %d threads; %s",
                elapsed,
                self._proc.pid,
                url,
                self.model_path.name,
                self.threads,
                cpu or "CPU features not reported",
            )
            return self._watch(url)
        finally:
            self._kill()

    def _wait_started(self, url: str, t0: float) -> str | None:
        assert self._proc is not None
        while time.monotonic() - t0 < self.start_timeout:
            code = self._proc.poll()
            if code is not None:
                return f"the model process {describe_exit(code)} while starting{self._log_tail()}"
            if self._probe(url):
                return None
            if self._stop.wait(0.25):
                return "stopped"
        return f"the model server did not start within {self.start_timeout:.0f} s{self._log_tail()}"

    def _watch(self, url: str) -> str:
        assert self._proc is not None
        misses = 0
        while not self._stop.is_set():
            woken = self._wake.wait(self.probe_interval)
            self._wake.clear()
            code = self._proc.poll()
            if code is not None:
                return f"the model process {describe_exit(code)}{self._log_tail()}"
            if self._probe(url):
                misses = 0
                continue
            try:
                # A process killed mid-answer closes its sockets a moment before it can be reaped: give it
                # that moment, so a crash is reported as the crash it was, not as a hang.
                code = self._proc.wait(timeout=1.0)
                return f"the model process {describe_exit(code)}{self._log_tail()}"
            except subprocess.TimeoutExpired:
                pass
            misses += 1
            # One missed probe after a failed request, or two in a row otherwise, is a hang.
            if misses >= (1 if woken else 2):
                return (
                    f"the model process stopped answering (no reply within {self.probe_timeout:.0f} s); "
                    "it was stopped and will be restarted"
                )
        return "stopped"

    def _probe(self, url: str) -> bool:
        try:
            return httpx.get(url + "/openapi.json", timeout=self.probe_timeout).status_code == 200
        except httpx.HTTPError:
            return False

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            proc.kill()
        proc.wait(timeout=10)

    def _log_lines(self, n: int, window: int = 16384) -> list[str]:
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - window))
                text = fh.read().decode("utf-8", "replace")
        except OSError:
            return []
        run = text.rsplit("=== ", 1)[-1]  # this start only
        return [line for line in run.splitlines()[1:] if line.strip() and not ACCESS_LOG.match(line)][-n:]

    def _log_tail(self) -> str:
        lines = self._log_lines(3)
        return f" (log: {' / '.join(line.strip()[:160] for line in lines)})" if lines else ""

    def _cpu_line(self) -> str | None:
        for line in self._log_lines(2000, window=1 << 20):
            match = SYSTEM_INFO.match(line)
            if match and "=" in match.group(1):
                return match.group(1).strip()
        return None
