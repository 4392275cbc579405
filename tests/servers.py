"""Start the real app under uvicorn, a real Chroma server and a real PostgreSQL server, on free loopback
ports, for end-to-end tests and the load runs."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from safeguide.models.server import free_loopback_port

REPO = Path(__file__).resolve().parent.parent
CHROMA = Path(sys.executable).with_name("chroma")


def make_users(data_dir: Path, database_url: str = "") -> dict[str, dict[str, str]]:
    """A user of each role in the local accounts of the database a server with this data folder (and
    SAFEGUIDE_DATABASE_URL) uses: role -> the headers that sign in as them."""
    from safeguide.access import UserStore
    from safeguide.settings import Settings

    with Settings(data_dir=data_dir, database_url=database_url).open_database() as db:
        store = UserStore(db)
        existing = {u["name"] for u in store.users()}
        tokens = {}
        for role in ("practitioner", "trainer", "admin"):
            if f"test-{role}" in existing:
                store.remove(f"test-{role}")
            tokens[role] = store.add(f"test-{role}", role)
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


def _postgres_bin(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))), None)
    if found is None:
        raise RuntimeError(f"PostgreSQL's {name} is not installed: `make postgres` installs Debian's package")
    return found


class PostgresServer:
    """A PostgreSQL cluster made with initdb in a temporary folder, its server on a free loopback port
    (trust sign-in, no fsync: a test database). initdb and postgres refuse to run as root, so as root
    they run as the `postgres` user. `stop()` kills the server (SIGKILL, as a crash would); `start()`
    brings the same cluster back on the same port."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="safeguide-pg-"))
        self.data, self.log = self.root / "data", self.root / "postgres.log"
        self.port = free_loopback_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self._as: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            self._as = ["runuser", "-u", "postgres", "--"]
        subprocess.run(
            [
                *self._as,
                _postgres_bin("initdb"),
                "-D",
                str(self.data),
                "-U",
                "safeguide",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
            check=True,
            capture_output=True,
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://safeguide@127.0.0.1:{self.port}/{database}"

    def start(self) -> PostgresServer:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [
                    *self._as,
                    _postgres_bin("postgres"),
                    "-D",
                    str(self.data),
                    "-p",
                    str(self.port),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    f"unix_socket_directories={self.root}",
                    "-c",
                    "fsync=off",
                    "-c",
                    "max_connections=200",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        import psycopg

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited: {self.log.read_text()[-2000:]}")
            try:
                psycopg.connect(self.url(), connect_timeout=2).close()
                return self
            except psycopg.OperationalError:
                time.sleep(0.2)
        raise RuntimeError("postgres did not answer within 60 s")

    def new_database(self) -> str:
        """A new empty database on this server; its URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            # runuser passes the signal on to postgres; the postmaster's children end when it is gone.
            subprocess.run(["pkill", "-KILL", "-f", f"postgres -D {self.data}"], check=False)
            self.proc.wait(timeout=10)
            time.sleep(0.5)  # let the backends notice the postmaster went
            for left in (self.data / "postmaster.pid", *self.root.glob(f".s.PGSQL.{self.port}*")):
                left.unlink(missing_ok=True)  # what a killed server leaves, so that `start()` can follow

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
