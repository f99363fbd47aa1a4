"""Build the LangChain chat model the settings ask for; provider packages are imported only then."""

from __future__ import annotations

from bot.settings import LLMSettings
from ingest.errors import NewsbotError


def build_chat_model(s: LLMSettings):
    """A LangChain chat model, or a NewsbotError that says which setting is missing."""
    if s.llm_provider == "none":
        raise NewsbotError("no language model is configured: set LLM_PROVIDER=openai or ollama and LLM_MODEL in .env")
    if not s.llm_model:
        raise NewsbotError(f"LLM_PROVIDER={s.llm_provider} needs LLM_MODEL, the name of the model to use")
    try:
        if s.llm_provider == "openai":
            from langchain_openai import ChatOpenAI

            if not s.openai_api_key and not s.openai_base_url:
                raise NewsbotError("LLM_PROVIDER=openai needs OPENAI_API_KEY (or OPENAI_BASE_URL for a local server)")
            key = s.openai_api_key.get_secret_value() if s.openai_api_key else "not-needed"
            # Retries are ours (bounded, with backoff, logged), so the SDK's own are switched off.
            return ChatOpenAI(
                model=s.llm_model,
                base_url=s.openai_base_url or None,
                api_key=key,
                timeout=s.llm_timeout,
                max_tokens=s.llm_max_tokens,
                temperature=s.llm_temperature,
                max_retries=0,
            )
        from langchain_ollama import ChatOllama

        return ChatOllama(
            model=s.llm_model,
            base_url=s.ollama_base_url,
            num_predict=s.llm_max_tokens,
            temperature=s.llm_temperature,
            client_kwargs={"timeout": s.llm_timeout},
        )
    except ImportError as e:
        raise NewsbotError(
            f"the {s.llm_provider} provider needs the llm extra: pip install -e '.[llm]' ({e.name} missing)"
        ) from None


def transient_errors() -> tuple[type[BaseException], ...]:
    """Errors worth a retry: timeouts, lost connections, rate limits and server errors, of any provider."""
    kinds: list[type[BaseException]] = [TimeoutError, ConnectionError]
    try:
        import httpx

        kinds += [httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError]
    except ImportError:
        pass
    try:
        import openai

        kinds += [openai.APITimeoutError, openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError]
    except ImportError:
        pass
    return tuple(kinds)
