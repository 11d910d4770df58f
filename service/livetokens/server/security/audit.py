"""What happened: an append-only JSON-lines record of every mint decision.

Each record is written, flushed and (by default) fsync'd before the RPC answers; a
grant whose record cannot be written is refused with UNAVAILABLE / AUDIT_UNAVAILABLE
(fail closed, as Vault's audit devices do). One writer thread owns the file: records
reach it through a FIFO queue, so the file holds them in the order they were
submitted (``seq`` increases by one per record), the event loop never blocks on disk,
and records that arrive while a write is under way share its fsync (group commit).

Records hold no secrets: never the API key, never a token name (its HMAC
fingerprint instead), never a bearer secret, never request text such as a system
instruction. See docs/security.md for the format.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import pathlib
import queue
import threading
from collections.abc import Callable, Mapping
from datetime import UTC
from typing import IO, Any

from livetokens.server import translate as tr
from livetokens.server.errors import Failure
from livetokens.server.security.identity import Identity
from livetokens.v1 import token_service_pb2 as ts

log = logging.getLogger(__name__)


class AuditUnavailable(Exception):
    """The record could not be written (the message says why, without secrets)."""


@dataclasses.dataclass
class _Pending:
    line: bytes
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]


_STOP = object()


def _settle(future: asyncio.Future[None], error: str | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(AuditUnavailable(error))


class AuditLog:
    """The audit file and its writer thread. ``open()`` once, ``await write()`` per
    record, ``reopen()`` after log rotation (SIGHUP), ``await aclose()`` at the end."""

    def __init__(
        self,
        path: pathlib.Path,
        *,
        fsync: bool = True,
        opener: Callable[[pathlib.Path], IO[bytes]] | None = None,
    ) -> None:
        self.path = path
        self._fsync = fsync
        self._opener = opener or (lambda p: open(p, "ab"))  # noqa: SIM115
        self._file: IO[bytes] | None = None
        # Set after a failed write, which may have left half a line behind.
        self._torn = False
        self._reopen = threading.Event()
        self._queue: queue.SimpleQueue[_Pending | object] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._seq = 0
        self._thread: threading.Thread | None = None

    def open(self) -> None:
        """Open the file (creating it, mode 0600) and start the writer; raises OSError."""
        if self._thread is not None:
            return
        self._file = self._open()
        self._thread = threading.Thread(target=self._run, name="livetokens-audit", daemon=True)
        self._thread.start()

    def _open(self) -> IO[bytes]:
        if not self.path.exists():
            # Create it private; an existing file keeps the operator's permissions.
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.close(fd)
        return self._opener(self.path)

    def reopen(self) -> None:
        """Reopen the file before the next write (after logrotate moved it)."""
        self._reopen.set()

    async def write(self, record: Mapping[str, Any]) -> None:
        """Append ``record`` (plus ``seq``) and return once it is on disk.

        Raises :class:`AuditUnavailable` when it could not be written.
        """
        if self._thread is None:
            raise AuditUnavailable("the audit log is not open")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            self._seq += 1
            line = json.dumps({"seq": self._seq, **record}, separators=(",", ":"))
            self._queue.put(_Pending(line.encode() + b"\n", loop, future))
        await future

    async def aclose(self) -> None:
        """Write what is queued, stop the writer and close the file."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
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
                error = self._write(b"".join(p.line for p in pending))
                for item in pending:
                    # A closed loop raises RuntimeError: nobody waits for the answer any more.
                    with contextlib.suppress(RuntimeError):
                        item.loop.call_soon_threadsafe(_settle, item.future, error)
            if any(item is _STOP for item in batch):
                self._close()
                return

    def _write(self, data: bytes) -> str | None:
        try:
            if self._reopen.is_set() or self._file is None:
                self._reopen.clear()
                self._close()
                self._file = self._open()
            file = self._file
            if self._torn and not self._ends_with_newline():
                data = b"\n" + data
            self._torn = False
            file.write(data)
            file.flush()
            if self._fsync:
                os.fsync(file.fileno())
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            log.error("audit log %s: write failed (%s); mints fail closed", self.path, reason)
            self._torn = True
            self._close()
            return f"cannot write the audit log ({reason})"
        return None

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


# --- records -----------------------------------------------------------------------------


def _seconds(message: Any) -> float:
    return float(message.ToTimedelta().total_seconds())


def request_summary(request: ts.TokenRequest) -> dict[str, Any]:
    """What the caller asked for, without any text it sent (null = unset)."""
    return {
        "request_id": request.request_id or None,
        "model": tr.model_name(request.constraints.model) if request.constraints.model else None,
        "uses": request.uses if request.HasField("uses") else None,
        "lifetime_s": _seconds(request.lifetime) if request.HasField("lifetime") else None,
        "new_session_window_s": _seconds(request.new_session_window)
        if request.HasField("new_session_window")
        else None,
        "lock_mode": ts.LockMode.Name(request.lock.mode)
        if request.lock.mode in ts.LockMode.values()
        else str(request.lock.mode),
        "lock_fields": [
            ts.LockableField.Name(f) if f in ts.LockableField.values() else str(f)
            for f in request.lock.additional_fields
        ],
    }


def _identity(identity: Identity) -> dict[str, Any]:
    out: dict[str, Any] = {"caller": identity.caller, "auth": identity.method}
    if identity.peer:
        out["peer"] = identity.peer
    if identity.credential:
        out["credential"] = identity.credential
    if identity.also:
        out["also"] = identity.also
    return out


def grant_record(
    *,
    time: str,
    identity: Identity,
    request: ts.TokenRequest,
    token: ts.Token,
    deduplicated: bool,
) -> dict[str, Any]:
    """The record of a token handed out (fingerprint, never the name)."""
    return {
        "time": time,
        **_identity(identity),
        "decision": "allow",
        "request": request_summary(request),
        "token": {
            "fingerprint": token.fingerprint,
            "expire_time": tr.rfc3339(token.expire_time.ToDatetime(tzinfo=UTC)),
            "new_session_expire_time": tr.rfc3339(
                token.new_session_expire_time.ToDatetime(tzinfo=UTC)
            ),
            "uses": token.uses,
            "model": token.model or None,
            "lock_all": token.lock.whole_setup,
            "lock_paths": list(token.lock.field_paths),
            "api_version": token.api_version,
        },
        "deduplicated": deduplicated,
    }


def refusal_record(
    *, time: str, identity: Identity, request: ts.TokenRequest, failure: Failure
) -> dict[str, Any]:
    """The record of a refusal: the reason, the policy rule, the fields (no message)."""
    record: dict[str, Any] = {
        "time": time,
        **_identity(identity),
        "decision": "deny",
        "reason": failure.reason.value,
        "code": failure.code.name,
    }
    if "rule" in failure.metadata:
        record["rule"] = failure.metadata["rule"]
    if failure.field_violations:
        record["fields"] = list(dict.fromkeys(v.field for v in failure.field_violations))
    details = {k: v for k, v in failure.metadata.items() if k != "rule"}
    if details:
        record["details"] = details
    if failure.retry_delay is not None:
        record["retry_delay_s"] = failure.retry_delay.total_seconds()
    record["request"] = request_summary(request)
    return record


def cancel_record(*, time: str, identity: Identity, request: ts.TokenRequest) -> dict[str, Any]:
    """The record of a call abandoned before its answer (no token was returned)."""
    return {
        "time": time,
        **_identity(identity),
        "decision": "cancelled",
        "request": request_summary(request),
    }
