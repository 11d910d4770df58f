"""The audit records of mint decisions: a grant, a refusal, a cancelled call.

A granted token leaves only after its record is written (fail closed, unless the
server runs with audit fail-open); a refusal stands even when its record cannot be
written (nothing was handed out); a cancelled call is recorded in the background,
since a cancelled task cannot wait for the disk (docs/security.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from livetokens.server.errors import Failure, Reason
from livetokens.server.security.audit import (
    AuditLog,
    AuditUnavailable,
    cancel_record,
    grant_record,
    refusal_record,
)
from livetokens.server.security.identity import Identity
from livetokens.v1 import token_service_pb2 as ts

log = logging.getLogger(__name__)


class MintAudit:
    """Writes the records of one server's mint decisions; does nothing without a log."""

    def __init__(self, audit: AuditLog | None, *, fail_open: bool, now: Callable[[], str]) -> None:
        """``audit`` None: no records; ``now``: the RFC 3339 time for a record."""
        self._audit = audit
        self._fail_open = fail_open
        self._now = now
        self._background: set[asyncio.Task[None]] = set()

    def cancelled(self, request: ts.TokenRequest, identity: Identity) -> None:
        """The caller went away (cancelled, or gRPC's own deadline): recorded in the
        background."""
        if self._audit is None:
            return
        record = cancel_record(time=self._now(), identity=identity, request=request)
        task = asyncio.get_running_loop().create_task(self._write_quietly(record))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _write_quietly(self, record: dict[str, Any]) -> None:
        assert self._audit is not None
        try:
            await self._audit.write(record)
        except AuditUnavailable as exc:
            log.error("audit record of a cancelled call was not written: %s", exc)

    async def refused(self, request: ts.TokenRequest, identity: Identity, failure: Failure) -> None:
        """Write the record of a refusal; a record that cannot be written is only logged."""
        if self._audit is None:
            return
        # One peer's refusals are throttled in the log; what was left out is counted
        # in a `suppressed` summary record (docs/security.md).
        admitted, due = self._audit.throttle.admit(identity, failure.reason.value)
        for summary in due:
            self._audit.submit({"time": self._now(), **summary})
        if not admitted:
            return
        record = refusal_record(
            time=self._now(), identity=identity, request=request, failure=failure
        )
        try:
            await self._audit.write(record)
        except AuditUnavailable as exc:
            log.error("audit record of a refusal (%s) was not written: %s", failure.reason, exc)

    async def granted(
        self, request: ts.TokenRequest, identity: Identity, token: ts.Token, *, deduplicated: bool
    ) -> None:
        """Write the record of a grant. Raises AUDIT_UNAVAILABLE when it cannot be
        written (the token is then withheld), unless the server runs fail-open."""
        if self._audit is None:
            return
        record = grant_record(
            time=self._now(),
            identity=identity,
            request=request,
            token=token,
            deduplicated=deduplicated,
        )
        try:
            await self._audit.write(record)
        except AuditUnavailable as exc:
            if self._fail_open:
                log.error(
                    "audit record NOT written (%s); token %s returned anyway (fail open)",
                    exc,
                    token.fingerprint,
                )
                return
            log.error(
                "audit record not written (%s): token %s is withheld (fail closed)",
                exc,
                token.fingerprint,
            )
            raise Failure(
                Reason.AUDIT_UNAVAILABLE,
                "livetokens could not record this mint in its audit log, so the token was "
                "withheld; retry with backoff.",
            ) from None
