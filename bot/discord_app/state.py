"""What the Discord app remembers: recent answers (for the buttons), rate limits, conversations, feedback."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from pathlib import Path

from bot.types import Answer, Turn


class RateLimiter:
    """At most `calls` per `per_s` seconds for each user (sliding window)."""

    def __init__(self, calls: int, per_s: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.calls, self.per_s, self.clock = calls, per_s, clock
        self._seen: dict[int, deque[float]] = {}

    def retry_after(self, user_id: int) -> float:
        """0 and the call is counted, or the seconds until this user may ask again."""
        now = self.clock()
        q = self._seen.setdefault(user_id, deque())
        while q and now - q[0] >= self.per_s:
            q.popleft()
        if len(q) >= self.calls:
            return self.per_s - (now - q[0])
        q.append(now)
        return 0.0


class Recent(OrderedDict):
    """A bounded mapping that forgets its oldest entries (answers for buttons, thread conversations)."""

    def __init__(self, capacity: int = 1000):
        super().__init__()
        self.capacity = capacity

    def __setitem__(self, key, value) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.capacity:
            self.popitem(last=False)


class AnswerStore(Recent):
    def add(self, answer: Answer) -> str:
        answer_id = secrets.token_hex(6)
        self[answer_id] = answer
        return answer_id


class Conversations(Recent):
    """Thread or DM channel id -> the turns so far (the newest `keep` of them)."""

    keep = 6

    def turns(self, channel_id: int, first_question: str | None = None) -> list[Turn]:
        if channel_id not in self and first_question:  # e.g. after a restart: the thread is named after it
            self[channel_id] = [Turn(first_question)]
        return list(self.get(channel_id, []))

    def add(self, channel_id: int, turn: Turn) -> None:
        self[channel_id] = (self.get(channel_id, []) + [turn])[-self.keep :]


class FeedbackLog:
    """👍/👎 votes appended to a JSONL file; users appear only as a keyed hash of their id."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._key: bytes | None = None

    def _salt(self) -> bytes:
        if self._key is None:
            salt_file = self.path.with_name(".feedback-key")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not salt_file.exists():
                fd = os.open(salt_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(secrets.token_bytes(32))
            self._key = salt_file.read_bytes()
        return self._key

    def user_hash(self, user_id: int) -> str:
        return hmac.new(self._salt(), str(user_id).encode(), hashlib.sha256).hexdigest()[:16]

    def record(self, answer: Answer, answer_id: str, user_id: int, verdict: str) -> None:
        row = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "answer_id": answer_id,
            "verdict": verdict,
            "user": self.user_hash(user_id),
            "question": answer.question,
            "answer": answer.text,
            "abstained": answer.abstained,
            "citations": [c.as_dict() for c in answer.citations],
        }
        with self._lock, self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
