"""Prompt templates read from prompts/*.md: role sections become ChatPromptTemplate messages."""

from __future__ import annotations

import re
from pathlib import Path

from langchain_core.prompts import ChatPromptTemplate

PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"
ANSWER_VARIABLES = frozenset({"as_of", "question", "passages", "output_format"})
CONDENSE_VARIABLES = frozenset({"as_of", "question", "history"})
_ROLE = re.compile(r"^<!--\s*(system|human|ai)\s*-->[ \t]*$", re.M)


def load_text(name: str, folder: Path = PROMPTS_DIR) -> str:
    return (folder / name).read_text(encoding="utf-8").strip()


def load_chat_prompt(name: str, folder: Path = PROMPTS_DIR) -> ChatPromptTemplate:
    """`<!-- system -->` / `<!-- human -->` sections of the file, in order; text before the first is a note."""
    parts = _ROLE.split(load_text(name, folder))
    messages = [(role, body.strip()) for role, body in zip(parts[1::2], parts[2::2])]
    if not messages:
        raise ValueError(f"{folder / name} has no <!-- system --> or <!-- human --> section")
    return ChatPromptTemplate.from_messages(messages)
