"""The local model in its own process, on real parts: llama.cpp's server with real GGUF models, the real
app under uvicorn, real signals. Killing or freezing the model must never take the web app down."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from safeguide.errors import ModelUnavailable
from safeguide.models.providers import openai_compatible
from safeguide.models.server import ModelServer, describe_exit
from tests.conftest import CORPUS
from tests.servers import running_process

pytestmark = pytest.mark.slow
# Written by the model (a "how often" is stated from the rules, with no model); its first passage is
# Staffordshire Part 6 ¶11, "... at least at six-weekly intervals ...".
QUESTION = "Why does the core group keep meeting in Staffordshire?"


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie has exited but is not yet reaped: it counts as gone
    return "Z" not in Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]


def test_exit_statuses_read_as_a_person_would() -> None:
    assert describe_exit(-11) == "killed by signal 11 (SIGSEGV)"
    assert describe_exit(-9) == "killed by signal 9 (SIGKILL)"
    assert describe_exit(1) == "exit status 1"


def test_generation_speed_counts_only_the_time_after_the_first_token() -> None:
    from safeguide.models import Timing

    streamed = Timing(tokens=51, seconds=7.0, first_token_s=2.0)
    assert streamed.tokens_per_s == 10.0 and "then 10.0 tokens/s" in streamed.describe()
    whole = Timing(tokens=4, seconds=3.26, first_token_s=None, prompt_tokens=412)
    assert whole.tokens_per_s is None  # prompt reading and writing cannot be told apart
    assert whole.describe() == "4 tokens after a 412-token prompt in 3.26 s (whole answer)"


@pytest.mark.parametrize("which", ["tiny_gguf", "packaged_gguf"])
def test_both_packaged_models_decode_through_the_model_server(
    which: str, request: pytest.FixtureRequest, output_dir: Path
) -> None:
    gguf: Path = request.getfixturevalue(which)
    server = ModelServer(gguf, log_path=output_dir / f"model-server-{which}.log", threads=2).start()
    try:
        assert server.wait_ready(180), server.status()
        status = server.status()
        assert status["state"] == "ready" and status["cpu"] and "AVX" in status["cpu"]
        assert "AMX_INT8 = 1" not in status["cpu"]  # the build that segfaulted on AMX CPUs
        model = openai_compatible(server.base_url, gguf.name, timeout=120)
        reply = model.complete([{"role": "user", "content": "Name one colour."}], max_tokens=8)
        assert reply.strip() and model.last is not None and model.last.tokens > 0
        streamed = "".join(model.stream([{"role": "user", "content": "Count to five."}], max_tokens=12))
        assert streamed.strip() and model.last.first_token_s is not None
        pid = server.pid
        assert pid is not None
    finally:
        server.stop()
    assert not _alive(pid), "stop() must end the model process"


def test_a_model_file_that_will_not_load_is_reported_with_its_reason(tmp_path: Path) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    server = ModelServer(bad, log_path=tmp_path / "model.log", start_timeout=60).start()
    try:
        assert not server.wait_ready(60, give_up_on_failure=True)
        status = server.status()
        assert status["state"] in ("down", "starting") and status["recent_failures"]
        assert "while starting" in status["recent_failures"][0]
        with pytest.raises(ModelUnavailable, match="local model server is"):
            server.check()
    finally:
        server.stop()


def _stream(url: str, question: str, on_token: Callable[[], None] | None = None) -> tuple[list[str], Any]:
    kinds: list[str] = []
    final: Any = None
    with httpx.stream("POST", url + "/api/ask/stream", json={"question": question}, timeout=180) as r:
        for line in r.iter_lines():
            if line.startswith("event: "):
                kinds.append(line[7:])
                if kinds[-1] == "token" and kinds.count("token") == 1 and on_token is not None:
                    on_token()
            elif line.startswith("data: ") and kinds[-1] in ("answer", "error"):
                final = json.loads(line[6:])
    return kinds, final


def _model_status(url: str) -> dict[str, Any]:
    status: dict[str, Any] = httpx.get(url + "/api/status", timeout=10).json()
    return status


def _local_env(tiny_gguf: Path, corpus_index: Path, timeout: float) -> dict[str, str]:
    return {
        "SAFEGUIDE_DATA_DIR": str(corpus_index),
        "SAFEGUIDE_CORPUS_DIR": str(CORPUS),
        "SAFEGUIDE_LLM_BACKEND": "local",
        "SAFEGUIDE_LLM_MODEL_PATH": str(tiny_gguf),
        "SAFEGUIDE_LLM_THREADS": "2",
        "SAFEGUIDE_LLM_TIMEOUT": str(timeout),
    }


def test_killing_the_model_mid_answer_never_takes_the_app_down(
    tiny_gguf: Path, corpus_index: Path, output_dir: Path
) -> None:
    env = _local_env(tiny_gguf, corpus_index, timeout=60)
    with running_process(env, output_dir / "api-local-kill.log", timeout=180) as (url, _):
        status = _model_status(url)
        assert status["mode"] == "local" and status["model_status"]["server"]["state"] == "ready"
        model_pid = status["model_status"]["server"]["pid"]

        kinds, final = _stream(url, QUESTION, on_token=lambda: os.kill(model_pid, signal.SIGKILL))
        # The stream still ends with a verified answer: quotations from the guidance, said so.
        assert kinds[:2] == ["checked", "sources"] and kinds[-1] == "answer" and "error" not in kinds
        assert final["mode"] == "extractive" and final["citations"] and "six-weekly" in final["answer"]
        assert any("The model did not answer" in n for n in final["notices"])
        assert httpx.get(url + "/healthz", timeout=5).status_code == 200

        _wait_for(lambda: _model_status(url)["model_status"]["server"]["state"] == "ready", 60, "the restart")
        server = _model_status(url)["model_status"]["server"]
        assert server["pid"] != model_pid and server["restarts"] >= 1
        assert "killed by signal 9 (SIGKILL)" in server["recent_failures"][-1]
        assert "local model server failed" in _model_status(url)["model_status"]["last_error"]

        kinds, final = _stream(url, QUESTION)
        assert kinds[-1] == "answer" and final["mode"] == "local"
        assert not any("did not answer" in n for n in final["notices"])
        assert _model_status(url)["model_status"]["last_answer"]["tokens"] > 0
    log = (output_dir / "api-local-kill.log").read_text()
    assert "local model ready" in log and "CPU :" in log and "tokens/s" in log  # where it runs, how fast
    assert "local model server down: the model process killed by signal 9" in log


def test_a_frozen_model_is_cut_off_then_replaced(
    tiny_gguf: Path, corpus_index: Path, output_dir: Path
) -> None:
    # The cut-off must stop a hang well inside the 30 s below, yet leave the replaced model time to write a
    # whole answer and its check on a busy 2-core machine: 4 s did not (CI once saw 'extractive' at the end).
    env = _local_env(tiny_gguf, corpus_index, timeout=15)
    with running_process(env, output_dir / "api-local-hang.log", timeout=180) as (url, _):
        model_pid = _model_status(url)["model_status"]["server"]["pid"]
        os.kill(model_pid, signal.SIGSTOP)  # alive, but answers nothing: a hang
        try:
            started = time.monotonic()
            r = httpx.post(url + "/api/ask", json={"question": QUESTION}, timeout=60)
            took = time.monotonic() - started
            answer = r.json()
            assert r.status_code == 200 and answer["mode"] == "extractive"
            assert "six-weekly" in answer["answer"]
            assert any("The model did not answer" in n for n in answer["notices"]), answer["notices"]
            assert took < 30, f"a hung model held the answer for {took:.0f} s (timeout 15 s)"
            _wait_for(
                lambda: (
                    _model_status(url)["model_status"]["server"]["pid"] not in (None, model_pid)
                    and _model_status(url)["model_status"]["server"]["state"] == "ready"
                ),
                90,
                "the hung model to be replaced",
            )
            assert "stopped answering" in _model_status(url)["model_status"]["server"]["recent_failures"][-1]
        finally:
            if _alive(model_pid):
                os.kill(model_pid, signal.SIGKILL)
        r = httpx.post(url + "/api/ask", json={"question": QUESTION}, timeout=120)
        assert r.json()["mode"] == "local", r.json()["notices"]
