"""Install llama-cpp-python built for this CPU family, never from pip's wheel cache (stdlib only).

Why: pip builds llama-cpp-python from source with ``-march=native`` by default and caches the wheel by
the source archive alone, so a wheel built on one machine is silently reused on another; on CPUs with
AMX under a hypervisor that native build segfaults in decode. Here the build flags are explicit and
portable within a profile, and our own wheel cache is keyed by version + flags:

- ``avx512``: AVX2 plus AVX-512 F/BW/VL/DQ/CD (GGML_AVX512), VBMI, VNNI, BF16; AMX off;
- ``avx2``: AVX, AVX2, FMA, F16C, BMI2 (llama.cpp's portable default, GGML_NATIVE=OFF);
- ``x86-64``: no vector extension beyond the x86-64 baseline: runs on every x86-64 CPU;
- ``portable``: GGML_NATIVE=OFF and llama.cpp's defaults, for other architectures.

``auto`` (the default; ``SAFEGUIDE_LLAMA_BUILD`` overrides) takes the fastest profile this CPU runs, as
measured by ``python -m eval.llama_builds`` (README, "Local model builds").

Usage: ``python scripts/install_llama.py`` with the virtualenv's python.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COMMON = ["-DGGML_NATIVE=OFF", "-DLLAVA_BUILD=OFF", "-DGGML_AMX_TILE=OFF", "-DGGML_AMX_INT8=OFF",
          "-DGGML_AMX_BF16=OFF"]  # fmt: skip
PROFILES: dict[str, tuple[list[str], set[str]]] = {
    # profile: (CMake flags, CPU flags it needs as /proc/cpuinfo spells them)
    "avx512": (
        [
            *COMMON,
            "-DGGML_AVX512=ON",
            "-DGGML_AVX512_VBMI=ON",
            "-DGGML_AVX512_VNNI=ON",
            "-DGGML_AVX512_BF16=ON",
        ],
        {
            "avx2",
            "fma",
            "f16c",
            "bmi2",
            "avx512f",
            "avx512bw",
            "avx512vl",
            "avx512dq",
            "avx512cd",
            "avx512vbmi",
            "avx512_vnni",
            "avx512_bf16",
        },
    ),
    "avx2": (COMMON, {"avx", "avx2", "fma", "f16c", "bmi2", "sse4_2"}),
    "x86-64": (
        [
            *COMMON,
            "-DGGML_SSE42=OFF",
            "-DGGML_AVX=OFF",
            "-DGGML_AVX2=OFF",
            "-DGGML_BMI2=OFF",
            "-DGGML_FMA=OFF",
            "-DGGML_F16C=OFF",
        ],
        set(),
    ),
    "portable": (COMMON, set()),
}
# Fastest first, by the measurements in eval/results/llama-builds.json.
X86_ORDER = ["avx512", "avx2", "x86-64"]


def fail(message: str) -> None:
    sys.exit(f"install_llama: {message}")


def pinned_version() -> str:
    for line in (REPO / "requirements.lock").read_text().splitlines():
        name, _, version = line.partition("==")
        if name.strip().lower().replace("_", "-") == "llama-cpp-python":
            return version.strip()
    fail("requirements.lock pins no llama_cpp_python")
    raise AssertionError


def cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def choose(requested: str) -> str:
    machine = platform.machine().lower()
    if requested != "auto":
        if requested not in PROFILES:
            fail(f"SAFEGUIDE_LLAMA_BUILD={requested}: choose auto, {', '.join(PROFILES)}")
        return requested
    if machine not in ("x86_64", "amd64"):
        return "portable"
    flags = cpu_flags()
    return next(p for p in X86_ORDER if PROFILES[p][1] <= flags)


def system_info(python: str) -> str | None:
    """What the installed llama.cpp says of the CPU features it was built with; None if it won't load."""
    code = "import llama_cpp; print(llama_cpp.llama_print_system_info().decode().strip())"
    run = subprocess.run([python, "-c", code], capture_output=True, text=True)
    return run.stdout.strip() if run.returncode == 0 else None


def installed_key(python: str) -> str | None:
    """The key of the build installed by this script, if it is still the one installed (a llama-cpp-python
    put there another way, e.g. by pip from its wheel cache, reports other features and does not count)."""
    marker = Path(sys.prefix) / "llama-build.json"
    try:
        data = json.loads(marker.read_text())
    except (OSError, ValueError):
        return None
    return str(data.get("key")) if system_info(python) == data.get("system_info") else None


def build(version: str, cmake_args: list[str], into: Path) -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "CMAKE_ARGS": " ".join(cmake_args), "FORCE_CMAKE": "1"}
        command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-cache-dir", "--no-deps",
                   "--no-binary", "llama-cpp-python", "-w", tmp, f"llama-cpp-python=={version}"]  # fmt: skip
        print(f"install_llama: building llama-cpp-python {version} ({' '.join(cmake_args)}); a few minutes")
        if subprocess.run(command, env=env).returncode != 0:
            fail("the llama-cpp-python build failed (see above)")
        (wheel,) = Path(tmp).glob("*.whl")
        into.mkdir(parents=True, exist_ok=True)
        staged = into / (wheel.name + ".part")
        shutil.copy2(wheel, staged)
        os.replace(staged, into / wheel.name)  # a half-copied wheel is never taken for a built one
        return into / wheel.name


def main() -> None:
    profile = choose(os.environ.get("SAFEGUIDE_LLAMA_BUILD", "auto"))
    version = pinned_version()
    cmake_args = PROFILES[profile][0]
    key = hashlib.sha256(f"{version} {' '.join(cmake_args)}".encode()).hexdigest()[:16]
    if installed_key(sys.executable) == key:
        print(f"install_llama: llama-cpp-python {version}, {profile} build, already installed")
        return
    cache = Path(os.environ.get("SAFEGUIDE_WHEEL_CACHE") or Path.home() / ".cache" / "safeguide" / "llama")
    folder = cache / f"{version}-{profile}-{key}"
    wheels = sorted(folder.glob("*.whl"))
    wheel = wheels[0] if wheels else build(version, cmake_args, folder)
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-cache-dir"]
    # This wheel and no other build of the same version; then its own dependencies, as locked.
    if subprocess.run([*pip, "--no-deps", "--force-reinstall", str(wheel)]).returncode != 0:
        fail(f"could not install {wheel}")
    if subprocess.run([*pip, "-c", str(REPO / "requirements.lock"), str(wheel)]).returncode != 0:
        fail(f"could not install the dependencies of {wheel}")
    info = system_info(sys.executable)
    if info is None:
        fail("the installed llama-cpp-python does not load (run `python -c 'import llama_cpp'` to see why)")
    if "AMX_INT8 = 1" in info:
        fail("the installed build uses AMX, which crashes under this hypervisor; remove " + str(folder))
    marker = Path(sys.prefix) / "llama-build.json"
    marker.write_text(json.dumps({"version": version, "profile": profile, "key": key, "cmake": cmake_args,
                                  "system_info": info}, indent=2))  # fmt: skip
    print(f"install_llama: llama-cpp-python {version}, {profile} build: {info}")


if __name__ == "__main__":
    main()
