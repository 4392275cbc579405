"""The deployment files agree with the code: every SAFEGUIDE_ setting compose passes is a real setting
(a typo there would be silently ignored), the database URL it builds is one the app accepts, the
commands it runs exist with the options it gives, and the app starts only after the migration."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from safeguide.cli import main
from safeguide.database import database_url
from safeguide.settings import Settings

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def _compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _filled(value: str) -> str:
    """${NAME:-default} and ${NAME:?message} as compose fills them with nothing set; ${NAME} as 'x'."""
    value = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)
    return re.sub(r"\$\{[A-Z_]+(:\?[^}]*)?\}", "x", value)


def test_compose_passes_only_real_settings() -> None:
    services = _compose()["services"]
    assert set(services) == {"postgres", "chroma", "model", "migrate", "app"}
    env = services["app"]["environment"]
    assert env == services["migrate"]["environment"]
    fields = {f"SAFEGUIDE_{name.upper()}" for name in Settings.model_fields}
    assert set(env) <= fields, sorted(set(env) - fields)
    settings = Settings(**{k.removeprefix("SAFEGUIDE_").lower(): _filled(str(v)) for k, v in env.items()})
    assert database_url(settings.database_url).get_backend_name() == "postgresql"
    assert settings.chroma_url == "http://chroma:8000" and settings.llm_backend == "openai"


def test_compose_runs_commands_that_exist_in_order() -> None:
    services = _compose()["services"]
    for name in ("migrate", "app"):
        command = [_filled(part) for part in services[name]["command"]]
        assert command[0] == ".venv/bin/safeguide"
        words = [part for part in command[1:] if not part.startswith("-")]
        path = words[: 2 if words[0] == "db" else 1]  # "db upgrade", "serve"
        helped = CliRunner().invoke(main, [*path, "--help"])
        assert helped.exit_code == 0, helped.output
        for option in (part for part in command if part.startswith("--")):
            assert option in helped.output, (name, option)
    assert services["app"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_the_image_runs_the_same_setup_and_keeps_no_wheel_cache() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert "RUN make setup" in dockerfile and "PIP_NO_CACHE_DIR=1" in dockerfile
    ignored = (DEPLOY.parent / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".venv", "data", "models"} <= set(ignored)
