"""Start the real app under uvicorn on a free loopback port, for end-to-end tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from safeguide.models.server import free_loopback_port

REPO = Path(__file__).resolve().parent.parent


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
