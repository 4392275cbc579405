"""Load on the real server: concurrent clients against search and ask, 1 or more workers.

Run: ``python -m eval.load [--clients 50 200] [--workers 1 2] [--seconds 20]
[--stores embedded chroma postgres servers] [--kill postgres|chroma --kill-at 20 --down 10]``.
Writes ``eval/results/load.json``. Each run serves a private copy of the current index (extractive mode,
no rate limit, since every client here is 127.0.0.1) and, for one endpoint, keeps CLIENTS requests in
flight for SECONDS: requests per second, latency p50/p95/p99, errors, and the resident memory of the
server's processes (the parent and its workers, summed) at start, at the peak and after the run. With
the ``chroma`` store, a Chroma server (`chroma run`) is started on loopback, the corpus is ingested into
it, and the Chroma server's own memory is reported beside the app's. With ``postgres`` the records go to a
PostgreSQL server started on loopback (initdb in a temporary folder) instead of the SQLite file;
``servers`` is both (the region's set-up). ``--kill`` stops that server (SIGKILL) KILL_AT seconds into each
run and starts it again DOWN seconds later: the errors are counted by status, and afterwards every
conversation in the database is checked for a question without its answer.
Traffic goes to loopback only, and every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from eval.retrieval import load_golden
from tests.servers import REPO, ChromaServer, PostgresServer, chroma_server, running_process

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "load.json"


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            children = []
        todo += [int(c) for c in children]
    return out


def rss_mb(pid: int) -> float:
    total = 0
    for p in _tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return round(total / 1024, 1)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1) if ordered else 0.0


Fault = tuple[Any, float, float]  # the server to kill (ChromaServer or PostgresServer), when, for how long


async def _drive(
    url: str, endpoint: str, clients: int, seconds: float, pid: int, fault: Fault | None = None
) -> dict[str, Any]:
    questions = [row["question"] for row in load_golden()]
    latencies: list[float] = []
    errors: dict[str, int] = {}
    peak = [rss_mb(pid)]
    stop = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client(n: int, http: httpx.AsyncClient) -> None:
        i = n
        while time.monotonic() < stop:
            q = questions[i % len(questions)]
            i += clients
            body = {"query": q, "k": 5} if endpoint == "search" else {"question": q}
            started = time.perf_counter()
            try:
                r = await http.post(f"/api/{endpoint}", json=body)
                if r.status_code == 200:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors[str(r.status_code)] = errors.get(str(r.status_code), 0) + 1
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                print(f"{time.monotonic() - stop + seconds:.1f} s: {exc!r} ({exc.__cause__!r})", flush=True)

    samples: list[tuple[float, float]] = []  # (seconds in, resident MB) every SAMPLE_EVERY seconds

    async def watch() -> None:
        began = time.monotonic()
        while time.monotonic() < stop:
            now = rss_mb(pid)
            peak[0] = max(peak[0], now)
            if not samples or time.monotonic() - began - samples[-1][0] >= SAMPLE_EVERY:
                samples.append((round(time.monotonic() - began, 1), now))
            await asyncio.sleep(0.5)

    async def kill() -> None:
        if fault is None:
            return
        server, at, down = fault
        await asyncio.sleep(at)
        await asyncio.to_thread(server.stop)
        print(f"{at:.0f} s: {type(server).__name__} killed", flush=True)
        await asyncio.sleep(down)
        await asyncio.to_thread(server.start)
        print(f"{at + down:.0f} s: {type(server).__name__} back", flush=True)

    started = time.monotonic()
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        await asyncio.gather(watch(), kill(), *(client(n, http) for n in range(clients)))
    took = time.monotonic() - started
    return {
        "endpoint": endpoint,
        "clients": clients,
        "seconds": round(took, 1),
        "requests": len(latencies),
        "rps": round(len(latencies) / took, 1),
        "p50_ms": _pct(latencies, 0.50),
        "p95_ms": _pct(latencies, 0.95),
        "p99_ms": _pct(latencies, 0.99),
        "errors": errors,
        "rss_peak_mb": peak[0],
        "rss_samples": samples,
    }


ENDPOINTS = ("search", "ask")
SAMPLE_EVERY = 30.0  # seconds between the memory samples kept for a long (soak) run


STORES = ("embedded", "chroma", "postgres", "servers")


def run(
    clients: list[int],
    workers: list[int],
    seconds: float,
    stores: list[str],
    endpoints: list[str],
    kill: tuple[str, float, float] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"clients": clients, "workers": workers, "seconds": seconds, "runs": []}
    if kill:
        out["kill"] = {"server": kill[0], "at_s": kill[1], "down_s": kill[2]}
    for store in stores:
        for n in workers:
            with tempfile.TemporaryDirectory(prefix="safeguide-load-") as tmp:
                out["runs"] += _run_one(Path(tmp), store, n, clients, seconds, endpoints, kill)
    out["machine"] = f"{os.cpu_count()} cores"
    return out


def _run_one(
    tmp: Path,
    store: str,
    n: int,
    clients: list[int],
    seconds: float,
    endpoints: list[str],
    kill: tuple[str, float, float] | None,
) -> list[dict[str, Any]]:
    from safeguide.settings import get_settings

    settings = get_settings()
    data = tmp / "data"
    env = {
        "SAFEGUIDE_DATA_DIR": str(data),
        "SAFEGUIDE_CORPUS_DIR": str(settings.corpus_dir),
        "SAFEGUIDE_LLM_BACKEND": "extractive",
        "SAFEGUIDE_RATE_LIMIT_PER_MINUTE": "0",
    }
    with contextlib.ExitStack() as stack:
        servers: dict[str, Any] = {}
        if store in ("postgres", "servers"):
            pg = PostgresServer().start()
            stack.callback(pg.close)
            env["SAFEGUIDE_DATABASE_URL"] = pg.new_database()
            servers["postgres"] = pg
        if store in ("chroma", "servers"):
            chroma: ChromaServer = stack.enter_context(chroma_server(tmp))
            env["SAFEGUIDE_CHROMA_URL"] = chroma.url
            subprocess.run(
                [sys.executable, "-m", "safeguide", "ingest"], env={**os.environ, **env}, cwd=REPO, check=True
            )
            servers["chroma"] = chroma
        else:
            shutil.copytree(settings.index_root, data / "index")
        if kill and kill[0] not in servers:
            raise SystemExit(f"--kill {kill[0]}: the {store} store runs no {kill[0]} server")
        fault = (servers[kill[0]], kill[1], kill[2]) if kill else None
        rows = _drive_server(tmp, env, (store, n), clients, seconds, endpoints, servers, fault)
        if fault:
            rows[-1]["integrity"] = _integrity(env)
        return rows


def _pids(servers: dict[str, Any]) -> dict[str, int]:
    """The server processes whose memory is reported beside the app's."""
    out = {}
    for name, server in servers.items():
        if server.proc is not None and server.proc.poll() is None:
            out[name] = server.proc.pid
    return out


def _integrity(env: dict[str, str]) -> dict[str, int]:
    """After a fault: conversations, and questions stored without their answer (must be 0)."""
    from sqlalchemy import func, select

    from safeguide.database.tables import messages
    from safeguide.settings import Settings

    settings = Settings(
        data_dir=Path(env["SAFEGUIDE_DATA_DIR"]), database_url=env.get("SAFEGUIDE_DATABASE_URL", "")
    )
    with settings.open_database() as db, db.read() as conn:
        per = conn.execute(select(messages.c.role, func.count()).group_by(messages.c.role)).all()
        conversations = conn.execute(
            select(func.count(func.distinct(messages.c.conversation_id)))
        ).scalar_one()
    counts = dict(per)
    return {
        "conversations": int(conversations),
        "questions": int(counts.get("user", 0)),
        "answers": int(counts.get("assistant", 0)),
        "questions_without_answer": int(counts.get("user", 0)) - int(counts.get("assistant", 0)),
    }


def _drive_server(
    tmp: Path,
    env: dict[str, str],
    setup: tuple[str, int],
    clients: list[int],
    seconds: float,
    endpoints: list[str],
    servers: dict[str, Any],
    fault: Fault | None,
) -> list[dict[str, Any]]:
    store, n = setup
    rows: list[dict[str, Any]] = []
    with running_process(env, tmp / "server.log", timeout=240, args=("--workers", str(n))) as (url, pid):
        time.sleep(3 * n)  # every worker up, not only the first to answer /healthz
        for _ in range(4 * n):  # warm each worker's models
            httpx.post(f"{url}/api/ask", json={"question": "who chairs an ICPC?"}, timeout=120)
        at_start = rss_mb(pid)
        for c in clients:
            for endpoint in endpoints:
                row = asyncio.run(_drive(url, endpoint, c, seconds, pid, fault))
                row |= {"store": store, "workers": n, "rss_start_mb": at_start, "rss_after_mb": rss_mb(pid)}
                for name, server_pid in _pids(servers).items():
                    row[f"{name}_rss_mb"] = rss_mb(server_pid)
                if fault:
                    row["recovered"] = httpx.get(f"{url}/healthz", timeout=30).status_code == 200
                print(json.dumps(row), flush=True)
                rows.append(row)
        time.sleep(5)
        rows[-1]["rss_settled_mb"] = rss_mb(pid)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--stores", nargs="+", choices=STORES, default=["embedded", "chroma"])
    parser.add_argument("--endpoints", nargs="+", choices=ENDPOINTS, default=list(ENDPOINTS))
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--kill", choices=["postgres", "chroma"], default=None)
    parser.add_argument("--kill-at", type=float, default=20)
    parser.add_argument("--down", type=float, default=10)
    args = parser.parse_args()
    kill = (args.kill, args.kill_at, args.down) if args.kill else None
    report = run(args.clients, args.workers, args.seconds, args.stores, args.endpoints, kill)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
