"""One writer per index at a time: an exclusive lock on a file in the index folder, held by `newsbot ingest`, `watch`
and Discord's /ingest for the whole of a write (recovery included), so a second writer never rolls back the first
one's intents as if it had crashed. With a shared Chroma server, a lease on the server does the same for writers on
other machines. Readers never take either."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from ingest.errors import NewsbotError

logger = logging.getLogger(__name__)


class IndexBusy(NewsbotError):
    """Another process is writing to the index and the caller chose not to wait."""


class WriterLock:
    """Re-entrant within a thread; other threads of the process wait on it as other processes do."""

    def __init__(self, path: Path, lease: ServerLease | None = None):
        self.path = path
        self.lease = lease  # with a shared Chroma server: the writers of other machines
        self._threads = threading.RLock()
        self._depth = 0
        self._file = None

    @contextlib.contextmanager
    def held(self, *, wait: bool = True, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
        """Hold the lock; a second writer waits (telling `on_wait` once) or, with wait=False, gets IndexBusy."""
        if not self._threads.acquire(blocking=False):
            if not wait:
                raise IndexBusy(self._busy("another writer of this process"))
            if on_wait:
                on_wait(self._busy("another writer of this process", waiting=True))
            self._threads.acquire()
        try:
            if self._depth == 0:
                self._lock_file(wait, on_wait)
                try:
                    if self.lease:
                        self.lease.acquire(wait=wait, on_wait=on_wait, holder=_holder())
                except BaseException:
                    self._unlock_file()
                    raise
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    try:
                        if self.lease:
                            self.lease.release()
                    finally:
                        self._unlock_file()
        finally:
            self._threads.release()

    def _lock_file(self, wait: bool, on_wait: Callable[[str], None] | None) -> None:
        f = open(self.path, "a+")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another newsbot"
            if not wait:
                f.close()
                raise IndexBusy(self._busy(holder)) from None
            if on_wait:
                on_wait(self._busy(holder, waiting=True))
            fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        f.truncate()
        f.write(_holder() + "\n")
        f.flush()
        self._file = f

    def _unlock_file(self) -> None:
        f, self._file = self._file, None
        if f is not None:
            f.seek(0)
            f.truncate()
            fcntl.flock(f, fcntl.LOCK_UN)
            f.close()

    def _busy(self, holder: str, waiting: bool = False) -> str:
        folder = self.path.parent
        if waiting:
            return f"{holder} is writing to the index in {folder}; waiting for it to finish…"
        return (
            f"{holder} is writing to the index in {folder}; try again when it is done (or leave out --no-wait to wait)"
        )


def _holder() -> str:
    return f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%d %H:%M:%S')}"


class ServerLease:
    """Exclusion for writers on several machines sharing one Chroma server: a collection named for the index, which
    the server creates for one writer only. The holder renews it every LEASE_S / 3; one left by a writer that died
    expires after LEASE_S and is taken over."""

    LEASE_S = 60.0  # how long a dead writer blocks the others
    POLL_S = 1.0  # how often a waiting writer asks again

    def __init__(self, client, name: str):
        self.client = client
        self.name = name
        self._stop: threading.Event | None = None

    def acquire(self, *, wait: bool, on_wait: Callable[[str], None] | None, holder: str) -> None:
        told = False
        while True:
            try:
                self.client.create_collection(self.name, metadata=self._metadata(holder), embedding_function=None)
                break
            except Exception as e:  # chromadb raises InternalError("Collection [...] already exists")
                if "already exists" not in str(e):
                    raise
            current = self._current()
            if current is None:
                continue  # released meanwhile
            if float(current.get("expires", 0)) < time.time():
                logger.warning(
                    "taking over the writer lease of %s from %s, which stopped renewing it",
                    self.name,
                    current.get("holder"),
                )
                self._delete()
                continue
            holder = current.get("holder", "another newsbot")
            message = f"{holder} (another machine) is writing to this index on the Chroma server"
            if not wait:
                raise IndexBusy(f"{message}; try again when it is done (or leave out --no-wait to wait)")
            if on_wait and not told:
                on_wait(f"{message}; waiting for it to finish…")
                told = True
            time.sleep(self.POLL_S)
        self._stop = threading.Event()
        threading.Thread(target=self._renew, args=(holder, self._stop), daemon=True, name="newsbot-lease").start()

    def release(self) -> None:
        if self._stop is not None:
            self._stop.set()
            self._stop = None
        self._delete()

    def _renew(self, holder: str, stop: threading.Event) -> None:
        while not stop.wait(self.LEASE_S / 3):
            try:
                self.client.get_collection(self.name, embedding_function=None).modify(metadata=self._metadata(holder))
            except Exception as e:  # the server is unreachable: the write itself will fail and say so
                logger.warning("cannot renew the writer lease %s: %s", self.name, e)

    def _metadata(self, holder: str) -> dict:
        return {"holder": holder, "expires": time.time() + self.LEASE_S}

    def _current(self) -> dict | None:
        try:
            return dict(self.client.get_collection(self.name, embedding_function=None).metadata or {})
        except Exception as e:
            if "does not exist" in str(e):
                return None
            raise

    def _delete(self) -> None:
        try:
            self.client.delete_collection(self.name)
        except Exception as e:
            if "does not exist" not in str(e):
                raise
