"""What happened: an append-only, hash-chained JSON-lines record of every mint decision.

Each record is written and flushed before the RPC answers; on a regular file it is also
fsync'd (by default). On a stream (stdout, a pipe, a FIFO, a tty: anything ``fstat``
does not call a regular file) it is flushed only, since fsync means nothing there:
the record is then as durable as the reader makes it (docs/security.md). A grant whose
record cannot be written is refused with UNAVAILABLE / AUDIT_UNAVAILABLE (fail closed,
as Vault's audit devices do), and once the log works again a ``recovery`` anchor and a
``withheld`` record follow, so a line that did reach the file is never a bare ``allow``.

One writer thread owns the file: records reach it through a FIFO queue, so the file
holds them in the order they were submitted (``seq`` increases by one per record), the
event loop never blocks on disk, and records that arrive while a write is under way
share its flush and fsync (group commit). Before each write of a regular file the
writer compares the path's inode with the open file's: a log deleted or moved without
SIGHUP is noticed and reopened. Every line carries a keyed hash chained to the one
before (:mod:`.audit_chain`), with an anchor at start-up, after a reopen and after a
write failure.

Records hold no secrets: never the API key, never a token name (its HMAC
fingerprint instead), never a bearer secret, never request text such as a system
instruction. See docs/security.md for the format.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import pathlib
import queue
import secrets
import stat
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import IO, Any

from livetokens.server import translate as tr
from livetokens.server.security.audit_chain import key_id, last_mac, seal
from livetokens.server.security.audit_records import (
    RefusalThrottle,
    cancel_record,
    grant_record,
    refusal_record,
    request_summary,
)

__all__ = [
    "AuditLog",
    "AuditUnavailable",
    "cancel_record",
    "grant_record",
    "refusal_record",
    "request_summary",
]

log = logging.getLogger(__name__)


class AuditUnavailable(Exception):
    """The record could not be written (the message says why, without secrets)."""


@dataclasses.dataclass
class _Pending:
    record: Mapping[str, Any]
    loop: asyncio.AbstractEventLoop | None = None
    future: asyncio.Future[None] | None = None


_STOP = object()


def _settle(future: asyncio.Future[None], error: str | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(AuditUnavailable(error))


def _now() -> str:
    return tr.rfc3339(datetime.now(UTC))


class AuditLog:
    """The audit file and its writer thread. ``open()`` once, ``await write()`` per
    record, ``reopen()`` after log rotation (SIGHUP), ``await aclose()`` at the end."""

    def __init__(
        self,
        path: pathlib.Path,
        *,
        fsync: bool = True,
        opener: Callable[[pathlib.Path], IO[bytes]] | None = None,
        key: bytes | None = None,
        key_source: str = "",
        fail_open: bool = False,
    ) -> None:
        """``key`` seals the chain (None: a random key for this process only);
        ``fail_open``: tokens are returned when their record is lost (so no
        ``withheld`` record follows)."""
        self.path = path
        self._fsync = fsync
        self._opener = opener or (lambda p: open(p, "ab"))  # noqa: SIM115
        self._key = key or secrets.token_bytes(32)
        self.key_source = key_source if key else "ephemeral"
        self._fail_open = fail_open
        self._file: IO[bytes] | None = None
        self._identity: tuple[int, int] | None = None  # (st_dev, st_ino) of a regular file
        self.is_stream = False
        # Set after a failed write, which may have left half a line behind.
        self._torn = False
        self._reopen = threading.Event()
        self._queue: queue.SimpleQueue[_Pending | object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        # Chain state, owned by the writer thread once it runs.
        self._seq = -1
        self._mac: str | None = None
        self._durable: tuple[int, str | None] = (-1, None)  # last record known written
        self._lost: list[int] = []  # seqs whose write failed, since the last success
        self._withheld: list[dict[str, Any]] = []
        self._start: dict[str, Any] = {"reason": "start", "prev": None}
        self.throttle = RefusalThrottle()
        # This writer's chain id: several processes (--workers) may append to one file.
        self.chain = secrets.token_hex(4)
        # Metrics hook: (written, seconds from submit to written) after each write().
        self.observe: Callable[[bool, float], None] | None = None

    @property
    def key_id(self) -> str:
        """The public label of the chain key (in every anchor)."""
        return key_id(self._key)

    def open(self, anchor: Mapping[str, Any] | None = None) -> None:
        """Open the file (creating it, mode 0600), write the start anchor (``seq`` 0,
        with ``anchor``'s fields) and start the writer; raises OSError."""
        if self._thread is not None:
            return
        # Link to the last record of an existing regular file (never read a FIFO).
        prev = last_mac(self.path) if self.path.is_file() else None
        self._file = self._open()
        self._seq, self._mac = -1, prev
        self._start = {"reason": "start", "prev": prev, **(anchor or {})}
        error = self._write([self._anchor(self._start)], retry=False)
        if error is not None:
            # Opened but not writable (a full disk): start, failing mints closed; the
            # start anchor is written with the first record that can be.
            self._lost = [0, 0]
        self._thread = threading.Thread(target=self._run, name="livetokens-audit", daemon=True)
        self._thread.start()

    def _open(self) -> IO[bytes]:
        with contextlib.suppress(OSError):
            if not self.path.exists():
                # Create it private; an existing file keeps the operator's permissions.
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
        file = self._opener(self.path)
        try:
            info = os.fstat(file.fileno())
        except (OSError, ValueError):
            self.is_stream, self._identity = False, None
        else:
            self.is_stream = not stat.S_ISREG(info.st_mode)
            self._identity = None if self.is_stream else (info.st_dev, info.st_ino)
        return file

    def reopen(self) -> None:
        """Reopen the file before the next write (after logrotate moved it)."""
        self._reopen.set()

    async def write(self, record: Mapping[str, Any]) -> None:
        """Append ``record`` (plus ``seq`` and its MAC) and return once it is written
        (fsync'd on a regular file). Raises :class:`AuditUnavailable` when it was not."""
        if self._thread is None:
            raise AuditUnavailable("the audit log is not open")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        started = time.monotonic()
        self._queue.put(_Pending(record, loop, future))
        try:
            await future
        except AuditUnavailable:
            if self.observe is not None:
                self.observe(False, time.monotonic() - started)
            raise
        if self.observe is not None:
            self.observe(True, time.monotonic() - started)

    def submit(self, record: Mapping[str, Any]) -> None:
        """Queue ``record`` without waiting for it (any thread; failures are logged)."""
        if self._thread is not None:
            self._queue.put(_Pending(record))

    async def aclose(self) -> None:
        """Write what is queued, the suppressed-refusal summaries and a ``stop`` record,
        then stop the writer and close the file."""
        thread = self._thread
        if thread is None:
            return
        for summary in self.throttle.due(everything=True):
            self.submit({"time": _now(), **summary})
        self.submit({"type": "stop", "time": _now()})
        self._thread = None
        self._queue.put(_STOP)
        await asyncio.to_thread(thread.join)

    # Writer thread ------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            pending = [item for item in batch if isinstance(item, _Pending)]
            if pending:
                error = self._write_records(pending)
                for item in pending:
                    if item.future is None or item.loop is None:
                        continue
                    # A closed loop raises RuntimeError: nobody waits for the answer any more.
                    with contextlib.suppress(RuntimeError):
                        item.loop.call_soon_threadsafe(_settle, item.future, error)
            if any(item is _STOP for item in batch):
                self._close()
                return

    def _anchor(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        return {"type": "anchor", "time": _now(), "key_id": self.key_id, **fields}

    def _write_records(self, pending: list[_Pending]) -> str | None:
        records: list[Mapping[str, Any]] = []
        if self._needs_reopen():
            self._close()
            records.append(self._anchor({"reason": "reopen", "prev": self._mac}))
        elif self._file is None:
            self._file = self._open_quietly()
        if self._lost and self._durable[0] < 0:
            records.append(self._anchor(self._start))  # nothing was ever written
            records += self._withheld
        elif self._lost:
            lost = [self._lost[0], self._lost[-1]]
            records.append(
                self._anchor({"reason": "recovery", "prev": self._durable[1], "lost_seq": lost})
            )
            records += self._withheld
        first_new = len(records)
        records += [p.record for p in pending]
        error = self._write(records, retry=True, grants=(first_new, len(records)))
        for item in pending:
            if item.future is None and error is not None:
                log.error("an audit record was not written: %s", error)
        return error

    def _open_quietly(self) -> IO[bytes] | None:
        """Reopen after a failed write (the recovery anchor says what happened)."""
        try:
            return self._open()
        except OSError:
            return None  # _write tries again and reports the error

    def _needs_reopen(self) -> bool:
        if self._reopen.is_set():
            self._reopen.clear()
            return True
        if self._identity is None or self._file is None:
            return False
        try:
            info = os.stat(self.path)
        except OSError:
            info = None
        if info is None or (info.st_dev, info.st_ino) != self._identity:
            log.warning("audit log %s was moved or deleted without SIGHUP; reopening it", self.path)
            return True
        return False

    def _write(
        self,
        records: list[Mapping[str, Any]],
        *,
        retry: bool,
        grants: tuple[int, int] = (0, 0),
    ) -> str | None:
        seq, mac = self._seq, self._mac
        lines, sealed = [], []
        for record in records:
            anchor_start = record.get("type") == "anchor" and record.get("reason") == "start"
            seq = 0 if anchor_start else seq + 1
            prev = record.get("prev") if record.get("type") == "anchor" else mac
            line, mac = seal(self._key, prev or "", {"seq": seq, "chain": self.chain, **record})
            lines.append(line)
            sealed.append((seq, record))
        self._seq, self._mac = seq, mac
        data = b"".join(lines)
        try:
            if self._file is None:
                self._file = self._open()
            if self._torn and (self.is_stream or not self._ends_with_newline()):
                data = b"\n" + data
            self._torn = False
            self._file.write(data)
            self._file.flush()
            if self._fsync and not self.is_stream:
                os.fsync(self._file.fileno())
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            log.error("audit log %s: write failed (%s); mints fail closed", self.path, reason)
            self._torn = True
            self._close()
            if retry:
                self._failed(sealed, grants)
            return f"cannot write the audit log ({reason})"
        self._durable = (seq, mac)
        self._lost, self._withheld = [], []
        return None

    def _failed(self, sealed: list[tuple[int, Mapping[str, Any]]], grants: tuple[int, int]) -> None:
        """Remember what was lost, for the recovery anchor and ``withheld`` records."""
        if not self._lost:
            self._lost = [self._durable[0] + 1]
        self._lost = [self._lost[0], sealed[-1][0]]
        if self._fail_open:
            return
        for seq, record in sealed[grants[0] : grants[1]]:
            if record.get("decision") == "allow":
                self._withheld.append(
                    {
                        "time": _now(),
                        "decision": "withheld",
                        "of_seq": seq,
                        "reason": "AUDIT_UNAVAILABLE",
                        "caller": record.get("caller"),
                        "token": {"fingerprint": (record.get("token") or {}).get("fingerprint")},
                    }
                )
        del self._withheld[1000:]

    def _ends_with_newline(self) -> bool:
        try:
            with open(self.path, "rb") as file:
                if file.seek(0, os.SEEK_END) == 0:
                    return True
                file.seek(-1, os.SEEK_END)
                return file.read(1) == b"\n"
        except OSError:
            return False

    def _close(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            try:
                file.close()
            except OSError as exc:
                log.warning("audit log %s: close failed (%s)", self.path, exc.strerror)
