"""One run of llama.cpp's OpenAI-compatible server (``python -m llama_cpp.server``) as a child process:
the command line, starting it in its own process group, asking whether it answers, killing it, and reading
its log for why it failed and which CPU features it used. ``ModelServer`` (server.py) decides when.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

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
class ServerProcess:
    """How to run the server; ``spawn()`` starts one process, ``kill()`` ends it (and its children)."""

    model_path: Path
    log_path: Path
    port: int
    alias: str = "local"
    threads: int = 1
    n_ctx: int = 4096
    probe_timeout: float = 5.0
    python: str = sys.executable

    def __post_init__(self) -> None:
        self.url = f"http://127.0.0.1:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        return [
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

    def spawn(self) -> int:
        """Start a process (after killing any left from before); return its pid."""
        self.kill()
        command = self.command()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
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
        return self._proc.pid

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def exit_code(self, wait: float = 0.0) -> int | None:
        """The exit status if the process has ended (waiting up to `wait` seconds), else None."""
        if self._proc is None:
            return None
        try:
            return self._proc.wait(timeout=wait) if wait else self._proc.poll()
        except subprocess.TimeoutExpired:
            return None

    def answers(self) -> bool:
        """True when the server's HTTP loop replies on a route that does not touch the model."""
        try:
            return httpx.get(self.url + "/openapi.json", timeout=self.probe_timeout).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            proc.kill()
        proc.wait(timeout=10)

    def log_lines(self, n: int, window: int = 16384) -> list[str]:
        """The last `n` lines this start wrote (request lines left out)."""
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - window))
                text = fh.read().decode("utf-8", "replace")
        except OSError:
            return []
        run = text.rsplit("=== ", 1)[-1]  # this start only
        return [line for line in run.splitlines()[1:] if line.strip() and not ACCESS_LOG.match(line)][-n:]

    def log_tail(self) -> str:
        lines = self.log_lines(3)
        return f" (log: {' / '.join(line.strip()[:160] for line in lines)})" if lines else ""

    def cpu_line(self) -> str | None:
        for line in self.log_lines(2000, window=1 << 20):
            match = SYSTEM_INFO.match(line)
            if match and "=" in match.group(1):
                return match.group(1).strip()
        return None
