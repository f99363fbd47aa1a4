"""Settings: one object from environment and .env; .env.example documents every key."""

from __future__ import annotations

import re
from pathlib import Path

from bot.settings import ChromaSettings, Settings
from tests.conftest import REPO


def test_env_example_lists_every_setting_with_a_comment():
    text = (REPO / ".env.example").read_text()
    keys = re.findall(r"^([A-Z_]+)=", text, re.M)
    sections = [Settings.model_fields[name].annotation for name in Settings.model_fields]
    fields = {f"{cls.model_config['env_prefix']}{k}".upper() for cls in sections for k in cls.model_fields}
    assert set(keys) == fields
    lines = text.splitlines()
    for key in keys:
        i = next(n for n, line in enumerate(lines) if line.startswith(f"{key}="))
        assert lines[i - 1].startswith("#"), f"{key} has no comment"


def test_env_file_then_environment_then_arguments(tmp_path, monkeypatch):
    """.env is read, the environment overrides it, and a command-line value overrides both."""
    env = tmp_path / ".env"
    env.write_text("NEWSBOT_TOP_K=7\nNEWSBOT_DATA_DIR=from-file\nCHROMA_HOST=chroma.local\n")
    s = Settings.load(env)
    assert (s.core.top_k, s.core.data_dir, s.chroma.host) == (7, Path("from-file"), "chroma.local")
    monkeypatch.setenv("NEWSBOT_TOP_K", "9")
    assert Settings.load(env).core.top_k == 9
    assert Settings.load(env, data_dir=Path("cli")).core.data_dir == Path("cli")


def test_chroma_token_is_not_shown():
    s = ChromaSettings(token="s3cret-token")
    assert "s3cret-token" not in repr(s) and "s3cret-token" not in str(s.model_dump())
