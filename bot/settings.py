"""One typed settings object, read from the environment and `.env`, built once in the entry point."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.reader import MODEL_DIR
from ingest.embed import PACKAGED_MODEL
from ingest.feeds import Politeness
from ingest.fetch import FetchLimits
from ingest.pipeline import SplitSettings
from ingest.vectors import ChromaConfig


class CoreSettings(BaseSettings):
    """Data directory, embedding model, splitting and retrieval (env prefix NEWSBOT_)."""

    model_config = SettingsConfigDict(
        env_prefix="NEWSBOT_", extra="ignore", env_file_encoding="utf-8", env_ignore_empty=True
    )

    data_dir: Path = Field(Path(".newsbot"), description="Where the index, manifest and eval runs live.")
    embedding_model: str = Field(
        PACKAGED_MODEL, description="Packaged MiniLM, or any sentence-transformers name or local path."
    )
    device: str = Field("cpu", description="Torch device for embedding: cpu, cuda, cuda:1, mps.")
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto", description="auto = bf16 where the CPU has native bf16, else fp32."
    )
    batch_size: int = Field(32, ge=1, le=4096, description="Passages per forward pass of the embedding model.")
    top_k: int = Field(5, ge=1, le=50, description="Passages shown to the answerer and cited from.")
    passage_chars: int = Field(1000, ge=100, le=8000, description="Largest passage, in characters (whole sentences).")
    passage_overlap: int = Field(0, ge=0, le=5, description="Sentences repeated between neighbouring passages.")
    embed_context: bool = Field(True, description="Embed each passage with its article's title and date.")
    per_article: int | None = Field(
        None,
        ge=1,
        le=20,
        description="At most this many passages of one article in the "
        "results; empty = the number `newsbot train` fitted with the reader (2 for the rules).",
    )
    reader: Literal["learned", "rules"] = Field(
        "learned",
        description="learned = the reader `newsbot train` fitted (models/reader; more answers right on news "
        "nobody tuned for); rules = the hand-weighted sentence score (abstains on more unanswerable "
        "questions, and on more answerable ones: docs/reader.md).",
    )
    reader_dir: Path = Field(MODEL_DIR, description="The trained reader's folder (checked against its manifest).")
    log_level: str = Field("WARNING", description="Python logging level for the CLI.")
    allow_private_urls: bool = Field(
        False, description="Let URL ingest reach loopback and private networks (never link-local)."
    )
    fetch_timeout: float = Field(
        20.0, gt=0, le=300, description="Seconds one URL download may take, redirects included."
    )
    fetch_delay: float = Field(
        2.0, ge=0, le=600, description="Seconds between two requests to the same host when polling feeds."
    )
    watch_interval: float = Field(
        900.0, ge=10, le=7 * 86400, description="Seconds between two polls of a followed feed or folder."
    )

    @property
    def split(self) -> SplitSettings:
        return SplitSettings(self.passage_chars, self.passage_overlap, self.embed_context)


class ChromaSettings(BaseSettings):
    """A Chroma server instead of the embedded store (env prefix CHROMA_); unset host = embedded."""

    model_config = SettingsConfigDict(env_prefix="CHROMA_", extra="ignore", env_file_encoding="utf-8")

    host: str | None = Field(None, description="Chroma server host; empty for the embedded store under the data dir.")
    port: int = Field(8000, description="Chroma server port.")
    ssl: bool = Field(False, description="Use HTTPS to reach the server.")
    token: SecretStr | None = Field(None, description="Sent as `Authorization: Bearer <token>` when set.")


class DiscordSettings(BaseSettings):
    """The Discord app (env prefix DISCORD_)."""

    model_config = SettingsConfigDict(env_prefix="DISCORD_", extra="ignore", env_file_encoding="utf-8")

    token: SecretStr | None = Field(None, description="Bot token from the Developer Portal; never logged.")
    guild_id: int | None = Field(
        None, description="Sync slash commands to this server only (instant) instead of globally."
    )
    message_content: bool = Field(
        False, description="Use the privileged Message Content intent for follow-ups in threads."
    )
    admin_roles: str = Field("", description="Comma-separated role ids allowed to /ingest besides Manage Server.")
    questions_per_minute: int = Field(5, ge=1, le=600, description="Questions one user may ask per minute.")
    max_question_chars: int = Field(500, ge=10, le=2000, description="Longer questions are refused politely.")
    max_concurrent: int = Field(4, ge=1, le=64, description="Answers computed at the same time (worker threads).")

    @property
    def admin_role_ids(self) -> frozenset[int]:
        return frozenset(int(x) for x in self.admin_roles.replace(" ", "").split(",") if x.isdigit())


class LLMSettings(BaseSettings):
    """An optional chat model through LangChain (no prefix: the variable names providers use)."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", env_file_encoding="utf-8")

    llm_provider: Literal["none", "openai", "ollama"] = Field(
        "none", description="none = the offline extractive answerer."
    )
    llm_model: str = Field("", description="Model name, e.g. gpt-4o-mini, qwen2.5:3b, or what a local server serves.")
    llm_output: Literal["structured", "constrained", "json", "text"] = Field(
        "structured",
        description="structured = the provider's schema output; constrained = a schema whose quotes can only be "
        "sentences of the passages (llama.cpp, Ollama, vLLM); json = JSON mode; text = the plain-text format.",
    )
    openai_base_url: str | None = Field(
        None, description="OpenAI-compatible endpoint (vLLM, LM Studio, llama.cpp server); empty = api.openai.com."
    )
    openai_api_key: SecretStr | None = Field(
        None, description="API key for the OpenAI-compatible endpoint; never logged."
    )
    ollama_base_url: str = Field("http://localhost:11434", description="Ollama server.")
    llm_timeout: float = Field(60.0, gt=0, le=600, description="Seconds one model call may take.")
    llm_max_tokens: int = Field(512, ge=16, le=32768, description="Longest answer the model may write.")
    llm_temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature (0 = most deterministic).")
    llm_max_retries: int = Field(
        2, ge=0, le=10, description="Retries, with exponential backoff, after a timeout, rate limit or lost connection."
    )


class Settings(BaseModel):
    """Everything newsbot reads from the environment, in sections."""

    core: CoreSettings
    chroma: ChromaSettings
    discord: DiscordSettings
    llm: LLMSettings

    @classmethod
    def load(cls, env_file: Path | str | None = ".env", **core: object) -> Settings:
        """Read the environment (and `env_file` when it exists); keyword arguments override core fields."""
        kw = {"_env_file": env_file if env_file and Path(env_file).exists() else None}
        overrides = {k: v for k, v in core.items() if v is not None}
        return cls(
            core=CoreSettings(**kw, **overrides),
            chroma=ChromaSettings(**kw),
            discord=DiscordSettings(**kw),
            llm=LLMSettings(**kw),
        )

    @property
    def fetch_limits(self) -> FetchLimits:
        return FetchLimits(timeout_s=self.core.fetch_timeout, allow_private=self.core.allow_private_urls)

    @property
    def politeness(self) -> Politeness:
        return Politeness(delay_s=self.core.fetch_delay, interval_s=self.core.watch_interval)

    def chroma_config(self, folder: Path) -> ChromaConfig:
        headers = (("Authorization", f"Bearer {self.chroma.token.get_secret_value()}"),) if self.chroma.token else ()
        if self.chroma.host:
            return ChromaConfig(host=self.chroma.host, port=self.chroma.port, ssl=self.chroma.ssl, headers=headers)
        return ChromaConfig(path=folder / "chroma")
