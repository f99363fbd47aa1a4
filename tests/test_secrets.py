"""Tokens and API keys never reach the terminal, the logs or an error message, even at DEBUG level."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO, SEED_ARTICLE

SECRETS = {
    "DISCORD_TOKEN": "MTA-discord-token-secret-value",
    "OPENAI_API_KEY": "sk-openai-secret-value",
    "CHROMA_TOKEN": "chroma-secret-value",
}


def newsbot(*args, **env) -> subprocess.CompletedProcess:
    base = {
        "PATH": "/usr/bin:/bin",
        "HF_HUB_OFFLINE": "1",
        "NEWSBOT_EMBEDDING_MODEL": "hash-64",
        "NEWSBOT_LOG_LEVEL": "DEBUG",
        **SECRETS,
    }
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env={**base, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_no_secret(result: subprocess.CompletedProcess) -> None:
    for name, value in SECRETS.items():
        assert value not in result.stdout + result.stderr, f"{name} leaked"


def test_an_unreachable_chroma_server_error_does_not_show_its_token(tmp_path):
    r = newsbot(
        "ask",
        "When was the ambassador appointed?",
        "--data-dir",
        str(tmp_path),
        CHROMA_HOST="127.0.0.1",
        CHROMA_PORT="9",
    )
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert_no_secret(r)


def test_a_failing_language_model_does_not_show_its_key(tmp_path):
    d = str(tmp_path)
    assert newsbot("ingest", str(SEED_ARTICLE), "--data-dir", d).returncode == 0
    r = newsbot(
        "ask",
        "When was the ambassador appointed?",
        "--llm",
        "--data-dir",
        d,
        LLM_PROVIDER="openai",
        LLM_MODEL="m",
        OPENAI_BASE_URL="http://127.0.0.1:9/v1",
        LLM_MAX_RETRIES="0",
    )
    assert r.returncode == 0 and "language model failed" in r.stdout
    assert_no_secret(r)


def test_settings_never_print_secrets():
    import os

    from bot.settings import Settings

    os.environ.update(SECRETS)
    try:
        s = Settings.load(None)
        dumped = repr(s) + str(s.model_dump()) + s.model_dump_json()
    finally:
        for k in SECRETS:
            os.environ.pop(k)
    for value in SECRETS.values():
        assert value not in dumped
