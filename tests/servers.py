"""Start the real app under uvicorn, and a real Chroma server, on free loopback ports, for end-to-end tests
and the load runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from safeguide.models.server import free_loopback_port

REPO = Path(__file__).resolve().parent.parent
CHROMA = Path(sys.executable).with_name("chroma")


def make_users(data_dir: Path) -> dict[str, dict[str, str]]:
    """A user of each role in `data_dir`'s local accounts: role -> the headers that sign in as them."""
    from safeguide.access import UserStore

    store = UserStore(data_dir / "users.sqlite3")
    try:
        existing = {u["name"] for u in store.users()}
        tokens = {}
        for role in ("practitioner", "trainer", "admin"):
            if f"test-{role}" in existing:
                store.remove(f"test-{role}")
            tokens[role] = store.add(f"test-{role}", role)
    finally:
        store.close()
    return {role: {"Authorization": f"Bearer {token}"} for role, token in tokens.items()}


@contextmanager
def running_server(env: dict[str, str], log: Path) -> Iterator[str]:
    with running_process(env, log) as (url, _):
        yield url


@contextmanager
def running_process(
    env: dict[str, str], log: Path, timeout: float = 90, args: tuple[str, ...] = ()
) -> Iterator[tuple[str, int]]:
    """`safeguide serve` on a free loopback port; yields its URL and process id once /healthz answers."""
    port = free_loopback_port()
    url = f"http://127.0.0.1:{port}"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "safeguide", "serve", "--host", "127.0.0.1", "--port", str(port), *args],
            env={**os.environ, **env},
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    raise RuntimeError(f"server exited early: {log.read_text()[-2000:]}")
                try:
                    httpx.get(url + "/healthz", timeout=1.0)
                    break
                except httpx.TransportError:
                    time.sleep(0.2)
            else:
                raise RuntimeError(f"server did not start within {timeout} s")
            yield url, proc.pid
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


class ChromaServer:
    """`chroma run` on a free loopback port over `path`; `stop()` kills it (SIGKILL), `start()` again."""

    def __init__(self, path: Path, log: Path) -> None:
        self.path, self.log = path, log
        self.port = free_loopback_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ChromaServer:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [CHROMA, "run", "--path", self.path, "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chroma run exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/api/v2/heartbeat", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.2)
        raise RuntimeError("chroma run did not answer within 60 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def collections(self) -> set[str]:
        from ingest.store import server_client

        return {c.name for c in server_client(self.url).list_collections()}


@contextmanager
def chroma_server(tmp: Path) -> Iterator[ChromaServer]:
    tmp.mkdir(parents=True, exist_ok=True)
    server = ChromaServer(tmp / "chroma-data", tmp / "chroma.log").start()
    try:
        yield server
    finally:
        server.stop()
