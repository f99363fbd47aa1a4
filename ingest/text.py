"""Text as it may be stored: what any source can hold that SQLite, the tokenizer or a terminal cannot take."""

from __future__ import annotations

import re

_SURROGATE = re.compile("[\ud800-\udfff]")


def repaired(text: str) -> str:
    """`text` with lone surrogates (a JSON "\\ud800", a file name that is not UTF-8, a bad byte in argv) replaced by
    U+FFFD and NUL characters dropped: the rest of the text is kept as it was."""
    return _SURROGATE.sub("\ufffd", text).replace("\x00", "")
