"""The chat over HTTP against a real server: latency per mode and memory with the model loaded.

Run: ``python -m eval.ask_bench [--backend extractive|local] [--questions N]`` (needs an index, and for
``local`` the fetched model) → ``eval/results/ask-<backend>.json``.

- extractive: ``POST /api/ask`` p50/p95 over the golden questions;
- any backend: ``POST /api/ask/stream``: time to the sources event, to the first token, to the verified
  answer; then the server's peak resident memory (VmHWM), and for ``local`` the model server's too.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from eval.bench import _peak_rss_mb, _percentile
from eval.retrieval import HERE, load_golden
from safeguide.models.providers import BACKENDS

REPO = HERE.parent


def _stream(client: httpx.Client, question: str) -> dict[str, float]:
    marks: dict[str, float] = {}
    t0 = time.perf_counter()
    with client.stream("POST", "/api/ask/stream", json={"question": question}, timeout=300) as r:
        for line in r.iter_lines():
            if line.startswith("event: "):
                marks.setdefault(line[7:], (time.perf_counter() - t0) * 1000)
    return marks


def run(backend: str, questions: int) -> dict[str, Any]:
    from tests.servers import running_process

    env = {**os.environ, "SAFEGUIDE_LLM_BACKEND": backend}
    golden = [row["question"] for row in load_golden()][:questions]
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_process(env, Path(tmp) / "server.log", timeout=180) as (url, pid),
        httpx.Client(base_url=url, timeout=300) as client,
    ):
        status = client.get("/api/status").json()
        if status["mode"] != backend:
            raise SystemExit(f"the server runs {status['mode']}, not {backend}: {status['notice']}")
        client.post("/api/ask", json={"question": "warm up: when is the core group?"})
        ask_ms: list[float] = []
        if backend == "extractive":
            for q in golden:
                t0 = time.perf_counter()
                client.post("/api/ask", json={"question": q}).raise_for_status()
                ask_ms.append((time.perf_counter() - t0) * 1000)
        streams = [_stream(client, q) for q in golden]
        peak = _peak_rss_mb(pid)
        final = client.get("/api/status").json().get("model_status") or {}
        server = final.get("server") or {}
        model_peak = _peak_rss_mb(server["pid"]) if server.get("pid") else None

    def stat(key: str) -> dict[str, float]:
        values = [m[key] for m in streams if key in m]
        return {
            "p50": round(_percentile(values, 0.5), 1),
            "p95": round(_percentile(values, 0.95), 1),
            "n": len(values),
        }

    report: dict[str, Any] = {
        "backend": backend,
        "model": status["model"],
        "questions": len(golden),
        "stream_to_sources_ms": stat("sources"),
        "stream_to_first_token_ms": stat("token"),
        "stream_to_verified_answer_ms": stat("answer"),
        "server_peak_rss_mb": peak,
    }
    if server:
        report["model_server"] = {
            "peak_rss_mb": model_peak,
            "start_seconds": server.get("start_seconds"),
            "restarts": server.get("restarts"),
            "cpu": server.get("cpu"),
        }
    if ask_ms:
        report["ask_ms"] = {
            "p50": round(_percentile(ask_ms, 0.5), 1),
            "p95": round(_percentile(ask_ms, 0.95), 1),
            "n": len(ask_ms),
        }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=list(BACKENDS), default="extractive")
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument("--out", type=Path, default=None, help="Default: eval/results/ask-<backend>.json")
    args = parser.parse_args()
    report = run(args.backend, args.questions)
    out: Path = args.out or HERE / "results" / f"ask-{args.backend}.json"
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
