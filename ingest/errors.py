"""Domain errors of the writer side, translated into messages at the edges (CLI, Discord, eval)."""

from ingest.text import repaired


class NewsbotError(Exception):
    """Base of every error a user can act on; its message is shown as is."""


class BadArticle(NewsbotError):
    """A source that cannot be turned into an article; it is reported and skipped."""

    def __init__(self, where: str, reason: str):
        where = repaired(where)  # a file name that is not UTF-8 must still print
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


class IndexMismatch(NewsbotError):
    """The index was built with other settings (e.g. another embedding model) than the ones in use."""


class EmptyIndex(NewsbotError):
    """Nothing has been ingested yet."""
