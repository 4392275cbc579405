"""Speed and memory of ingest and search, measured end to end on this machine.

Run: ``python -m eval.bench`` (or ``make bench``). Writes ``eval/results/bench.json``.

- ingest from scratch and again with nothing changed: wall time of ``safeguide ingest`` as a new
  process (so model loading is included) and the time the ingest itself reports;
- search: warm latency of ``POST /api/search`` over HTTP against a real uvicorn server, and of the
  retriever called in-process;
- the server's peak resident memory (VmHWM from /proc) after the searches.
"""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from eval.retrieval import load_golden

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def _timed_ingest(env: dict[str, str]) -> dict[str, float]:
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "safeguide", "ingest"],
        env=env,
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    reported = re.search(r"in ([0-9.]+) s|\(([0-9.]+) s\)", out.stdout)
    inner = float(next(g for g in reported.groups() if g)) if reported else float("nan")
    return {"wall_s": round(wall, 2), "ingest_s": round(inner, 2)}


def _peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return round(int(match.group(1)) / 1024, 1) if match else float("nan")


def run(rounds: int = 4) -> dict[str, Any]:
    from tests.servers import running_process  # the same helper the end-to-end tests use

    questions = [row["question"] for row in load_golden()]
    with tempfile.TemporaryDirectory() as tmp:
        # The ingest rows leave out tuning the embedder (minutes; measured by eval/retrieval.py instead).
        # The server's per-client limit (300 a minute) is off: the benchmark is one client asking fast.
        env = {
            **os.environ,
            "SAFEGUIDE_DATA_DIR": tmp,
            "SAFEGUIDE_TUNE_EMBEDDER": "0",
            "SAFEGUIDE_RATE_LIMIT_PER_MINUTE": "0",
        }
        scratch = _timed_ingest(env)
        unchanged = _timed_ingest(env)
        with (
            running_process(env, Path(tmp) / "server.log", timeout=120) as (url, pid),
            httpx.Client(base_url=url) as client,
        ):
            client.post("/api/search", json={"query": "warm up"})
            http_ms: list[float] = []
            for _ in range(rounds):
                for q in questions:
                    t0 = time.perf_counter()
                    r = client.post("/api/search", json={"query": q, "k": 5})
                    http_ms.append((time.perf_counter() - t0) * 1000)
                    r.raise_for_status()
            peak = _peak_rss_mb(pid)

        from ingest.store import IndexLocation
        from safeguide.retrieval.hybrid import HybridRetriever
        from safeguide.services import build_embedder
        from safeguide.settings import Settings

        retriever = HybridRetriever(IndexLocation(Path(tmp) / "index"), build_embedder(Settings()))
        retriever.search("warm up")
        inproc: list[float] = []
        for _ in range(rounds):
            for q in questions:
                t0 = time.perf_counter()
                retriever.search(q, k=5)
                inproc.append((time.perf_counter() - t0) * 1000)

    return {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "ingest_from_scratch": scratch,
        "ingest_unchanged": unchanged,
        "search_http": {
            "requests": len(http_ms),
            "p50_ms": round(statistics.median(http_ms), 1),
            "p95_ms": round(_percentile(http_ms, 0.95), 1),
        },
        "search_in_process": {
            "queries": len(inproc),
            "p50_ms": round(statistics.median(inproc), 1),
            "p95_ms": round(_percentile(inproc, 0.95), 1),
        },
        "server_peak_rss_mb": peak,
    }


def main() -> None:
    report = run()
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "bench.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
