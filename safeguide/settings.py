"""One settings object for the whole application (env prefix SAFEGUIDE_)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from safeguide.database import Database

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SAFEGUIDE_", env_ignore_empty=True, extra="ignore")

    corpus_dir: Path = Field(default=REPO_ROOT / "corpus", description="Documents and their manifests.")
    data_dir: Path = Field(default=REPO_ROOT / "data", description="Where the index builds live.")
    chroma_url: str = Field(
        default="",
        description="A Chroma server (`chroma run`) to keep the passages in, e.g. http://127.0.0.1:8001; "
        "empty: Chroma embedded in each build folder.",
    )
    database_url: str = Field(
        default="",
        description="Where conversations, feedback, quizzes, rule reviews, users, the audit trail and ingest "
        "jobs are kept: a PostgreSQL URL (postgresql://user:password@host:5432/safeguide); empty: the SQLite "
        "file data/safeguide.sqlite3.",
    )
    embedding_model_path: Path | None = Field(
        default=None,
        description="A sentence-transformers model folder; default: the packaged all-MiniLM-L6-v2.",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)

    max_query_chars: int = Field(default=1000, ge=10)
    max_k: int = Field(default=50, ge=1)
    max_document_bytes: int = Field(default=200 * 1024 * 1024, ge=1)
    max_upload_bytes: int = Field(
        default=25 * 1024 * 1024, ge=1, description="The largest document an admin may upload from the page."
    )
    max_paragraph_chars: int = Field(default=1200, ge=200)
    tune_embedder: bool = Field(
        default=True,
        description="After an ingest, fine-tune the embedder on the index's passages (about 3 to 5 minutes "
        "on 2 cores for the five documents) and let it reorder the first five search results; 0 to skip.",
    )
    tune_max_pairs: int | None = Field(
        default=None,
        ge=1,
        description="At most this many question-to-passage pairs for the tuning (a bound on its time on a "
        "large index); default 2,000.",
    )
    min_fragment_chars: int = Field(default=40, ge=0)

    timescales_file: Path | None = Field(
        default=None, description="The timescale rules; default: timescales.toml in the corpus folder."
    )
    closure_days_file: Path | None = Field(
        default=None,
        description='Optional TOML of office closure days per authority ([hampshire] "2025-12-29" = '
        '"office closed"); off unless set. Closure days then count as non-working days for that area.',
    )

    llm_backend: Literal["extractive", "local", "openai", "azure", "ollama"] = Field(
        default="local",
        description="extractive (no model), local (the packaged GGUF behind a supervised llama.cpp server "
        "on loopback), openai (any OpenAI-compatible server), azure (Azure OpenAI) or ollama.",
    )
    llm_model_path: Path | None = Field(
        default=None, description="GGUF file for the local backend; default: the packaged model in models/."
    )
    llm_threads: int | None = Field(
        default=None, ge=1, description="CPU threads for the local model (default: every core)."
    )
    llm_timeout: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="Seconds a model may take for one answer (and the longest silence while streaming); "
        "slower answers are cut off and the chat answers from the guidance instead.",
    )
    llm_server_port: int = Field(
        default=0, ge=0, le=65535, description="Loopback port of the local model server (0: a free one)."
    )
    llm_start_timeout: float = Field(
        default=180.0, gt=0, description="Seconds the local model server may take to load the model."
    )
    llm_base_url: str = Field(
        default="",
        description="openai: the base URL (http://127.0.0.1:8080/v1); azure: the resource endpoint "
        "(https://NAME.openai.azure.com); ollama: the server (default http://127.0.0.1:11434).",
    )
    llm_model: str = Field(
        default="", description="The model to ask for (openai, ollama) or the Azure deployment name."
    )
    llm_api_key: str = Field(default="", description="API key (azure; openai if the server needs one).")
    llm_api_version: str = Field(default="2024-10-21", description="Azure OpenAI API version.")
    max_question_chars: int = Field(default=2000, ge=20)

    auth: Literal["local", "oidc"] = Field(
        default="local",
        description="How users sign in: local (accounts made with `safeguide users add`, each with a token) "
        "or oidc (a council's single sign-on, such as Microsoft Entra ID: bearer tokens it signed).",
    )
    anonymous_ask: bool = Field(
        default=True,
        description="Whether practitioners may ask, search and compute deadlines without signing in. "
        "Quizzes need a trainer, rule review an admin, whatever this says.",
    )
    oidc_issuer: str = Field(
        default="", description="oidc: the issuer (Entra: https://login.microsoftonline.com/TENANT/v2.0)."
    )
    oidc_audience: str = Field(
        default="", description="oidc: the audience tokens must name (the app's client id)."
    )
    oidc_jwks_url: str = Field(
        default="",
        description="oidc: the provider's key set; default: read from the issuer's discovery document.",
    )
    oidc_role_claim: str = Field(default="roles", description="oidc: the claim that holds the user's roles.")
    oidc_roles: str = Field(
        default="safeguide.admin=admin,safeguide.trainer=trainer,safeguide.practitioner=practitioner",
        description="oidc: the role claim's values (app roles) and the safeguide role each gives.",
    )
    oidc_default_role: Literal["", "practitioner", "trainer", "admin"] = Field(
        default="",
        description="oidc: the role of a signed-in user with none of those values (default: refused).",
    )
    oidc_client_id: str = Field(
        default="",
        description="oidc: the client id the page signs in with (Entra: the app registration, platform "
        "'Single-page application', redirect URI the page's own address); empty: no sign-in button, a "
        "token is pasted instead.",
    )
    oidc_scope: str = Field(
        default="openid profile",
        description="oidc: the scopes the page asks for (add the API's scope to use the access token).",
    )
    oidc_browser_token: Literal["id_token", "access_token"] = Field(
        default="id_token",
        description="oidc: which of the tokens the page receives it sends as its bearer token (the one whose "
        "audience is SAFEGUIDE_OIDC_AUDIENCE).",
    )
    oidc_authorize_url: str = Field(
        default="", description="oidc: the authorization endpoint; default: from the discovery document."
    )
    oidc_token_url: str = Field(
        default="", description="oidc: the token endpoint; default: from the discovery document."
    )
    request_threads: int = Field(
        default=8,
        ge=1,
        le=256,
        description="Requests a worker works on at once (the rest wait their turn): the checks and search "
        "are CPU-bound, so more threads than this add memory on a small machine, not speed.",
    )
    conversation_retention_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="Conversations (and their feedback) unused for this many days are deleted, hourly by "
        "the server and by `safeguide conversations purge`.",
    )
    rate_limit_per_minute: int = Field(
        default=300, ge=0, description="Requests per minute one client may make to /api/ (0: no limit)."
    )
    cors_origins: str = Field(
        default="", description="Other web origins allowed to call the API, comma-separated (default: none)."
    )

    @field_validator("oidc_roles")
    @classmethod
    def _role_map(cls, value: str) -> str:
        from safeguide.access.oidc import parse_role_map

        parse_role_map(value)  # a bad entry stops start-up with its message
        return value

    @field_validator("database_url")
    @classmethod
    def _database(cls, value: str) -> str:
        if value:
            from safeguide.database import database_url

            database_url(value)  # an unknown engine or a malformed URL stops start-up with its message
        return value

    @field_validator("corpus_dir", "data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def index_root(self) -> Path:
        return self.data_dir / "index"

    @property
    def models_dir(self) -> Path:
        return REPO_ROOT / "models"

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "safeguide.sqlite3"

    def open_database(self) -> Database:
        """The product database (`safeguide.database.Database`), its tables brought up to date; records
        of the earlier one-file-per-store SQLite databases in the data folder are copied in once."""
        from safeguide.database import Database

        if self.database_url:
            return Database(self.database_url, legacy_dir=self.data_dir)
        return Database.sqlite(self.sqlite_path, legacy_dir=self.data_dir)

    @property
    def rules_path(self) -> Path:
        return self.timescales_file or self.corpus_dir / "timescales.toml"

    @property
    def events_path(self) -> Path:
        """The event vocabulary timescales read from documents are mapped onto."""
        return self.corpus_dir / "events.toml"

    def vocabulary(self) -> Any:
        """The event vocabulary, or None when the corpus has none (timescales are then not read)."""
        from ingest.timescale_extract import Vocabulary

        return Vocabulary.load(self.events_path) if self.events_path.exists() else None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
