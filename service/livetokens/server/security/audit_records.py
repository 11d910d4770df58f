"""The audit records: what each decision writes, bounded in size whatever the request,
and refusals from one peer throttled with a summary of what was suppressed.

Every value that comes from a caller is bounded: a string longer than its limit, or
not printable, is replaced by ``{"truncated": <prefix>, "length": n, "sha256": hex}``
(so the record says it was cut, and equal values can still be matched); lists keep
their first entries and say how many were left out. A record is at most
:data:`MAX_RECORD_BYTES` once serialised (docs/security.md, "Record format").
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC
from typing import Any

from livetokens.server import translate as tr
from livetokens.server.errors import Failure
from livetokens.server.security.identity import Identity, peer_ip
from livetokens.v1 import token_service_pb2 as ts

MAX_RECORD_BYTES = 4096
MAX_REQUEST_ID = 64
MAX_MODEL = 128
MAX_IDENTITY = 256
MAX_VALUE = 256
MAX_LIST = 16


def bounded(value: str, limit: int) -> str | dict[str, Any]:
    """``value`` when it is printable and at most ``limit`` characters; otherwise a
    truncated, hashed stand-in that says so."""
    if len(value) <= limit and value.isprintable():
        return value
    prefix = "".join(c if c.isprintable() else "?" for c in value[: min(limit, 32)])
    return {
        "truncated": prefix,
        "length": len(value),
        "sha256": hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest(),
    }


def bounded_list(values: Sequence[Any], limit: int = MAX_LIST) -> dict[str, Any] | list[Any]:
    """The first ``limit`` values, and how many were left out when there were more."""
    if len(values) <= limit:
        return list(values)
    return {"first": list(values[:limit]), "omitted": len(values) - limit}


def _seconds(message: Any) -> float | str:
    try:
        return float(message.ToTimedelta().total_seconds())
    except (OverflowError, ValueError):
        return f"out of range ({message.seconds}s)"


def _enum_name(enum: Any, value: int) -> str:
    return str(enum.Name(value)) if value in enum.values() else str(value)


def request_summary(request: ts.TokenRequest) -> dict[str, Any]:
    """What the caller asked for, without any text it sent (null = unset), bounded."""
    model = request.constraints.model
    fields = request.lock.additional_fields
    return {
        "request_id": bounded(request.request_id, MAX_REQUEST_ID) if request.request_id else None,
        "model": bounded(tr.model_name(model), MAX_MODEL) if model else None,
        "uses": request.uses if request.HasField("uses") else None,
        "lifetime_s": _seconds(request.lifetime) if request.HasField("lifetime") else None,
        "new_session_window_s": _seconds(request.new_session_window)
        if request.HasField("new_session_window")
        else None,
        "lock_mode": _enum_name(ts.LockMode, request.lock.mode),
        "lock_fields": _lock_fields(fields),
    }


def _lock_fields(fields: Sequence[int]) -> dict[str, Any] | list[str]:
    names = [_enum_name(ts.LockableField, f) for f in fields[:MAX_LIST]]
    if len(fields) <= MAX_LIST:
        return names
    return {"first": names, "omitted": len(fields) - MAX_LIST}


def identity_fields(identity: Identity) -> dict[str, Any]:
    """caller, auth, peer, credential, also: bounded."""
    out: dict[str, Any] = {
        "caller": bounded(identity.caller, MAX_IDENTITY),
        "auth": identity.method,
    }
    if identity.peer:
        out["peer"] = bounded(identity.peer, MAX_VALUE)
    if identity.credential:
        out["credential"] = identity.credential
    if identity.also:
        out["also"] = bounded(identity.also, MAX_IDENTITY)
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
    return fit(
        {
            "time": time,
            **identity_fields(identity),
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
                "lock_paths": bounded_list(list(token.lock.field_paths)),
                "api_version": token.api_version,
            },
            "deduplicated": deduplicated,
        }
    )


def refusal_record(
    *, time: str, identity: Identity, request: ts.TokenRequest, failure: Failure
) -> dict[str, Any]:
    """The record of a refusal: the reason, the policy rule, the fields (no message)."""
    record: dict[str, Any] = {
        "time": time,
        **identity_fields(identity),
        "decision": "deny",
        "reason": failure.reason.value,
        "code": failure.code.name,
    }
    if "rule" in failure.metadata:
        record["rule"] = bounded(failure.metadata["rule"], MAX_VALUE)
    if failure.field_violations:
        fields = list(dict.fromkeys(v.field for v in failure.field_violations[: MAX_LIST * 4]))
        record["fields"] = bounded_list([bounded(f, MAX_VALUE) for f in fields])
        if len(failure.field_violations) > MAX_LIST * 4:
            record["violations"] = len(failure.field_violations)
    details = {
        k[:64]: bounded(v, MAX_VALUE)
        for k, v in list(failure.metadata.items())[:MAX_LIST]
        if k != "rule"
    }
    if details:
        record["details"] = details
    if failure.retry_delay is not None:
        record["retry_delay_s"] = failure.retry_delay.total_seconds()
    record["request"] = request_summary(request)
    return fit(record)


def cancel_record(*, time: str, identity: Identity, request: ts.TokenRequest) -> dict[str, Any]:
    """The record of a call abandoned before its answer (no token was returned)."""
    return fit(
        {
            "time": time,
            **identity_fields(identity),
            "decision": "cancelled",
            "request": request_summary(request),
        }
    )


def fit(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` when it serialises to at most MAX_RECORD_BYTES; otherwise with its
    ``request``, ``fields`` and ``details`` replaced by their hash (and ``oversized``)."""
    size = len(json.dumps(record, separators=(",", ":")))
    if size <= MAX_RECORD_BYTES:
        return record
    out = dict(record)
    for key in ("request", "fields", "details"):
        if key in out:
            text = json.dumps(out[key], separators=(",", ":"), sort_keys=True)
            out[key] = {
                "omitted_bytes": len(text),
                "sha256": hashlib.sha256(text.encode()).hexdigest(),
            }
    out["oversized"] = size
    return out


# --- throttling refusals ---------------------------------------------------------------------


@dataclasses.dataclass
class _Peer:
    tokens: float
    stamp: float
    suppressed: int = 0
    since: float = 0.0
    reasons: dict[str, int] = dataclasses.field(default_factory=dict)


class RefusalThrottle:
    """A token bucket per peer address for refusal records: at most ``burst`` at once,
    refilled at ``rate`` per second. Suppressed refusals are counted and reported in a
    ``suppressed`` summary record once the peer's bucket has room again, or after
    ``summary_after`` seconds, or at shutdown. Grants are never throttled."""

    def __init__(
        self,
        rate: float = 10.0,
        burst: int = 50,
        *,
        summary_after: float = 10.0,
        max_peers: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate, self._burst = rate, burst
        self._summary_after = summary_after
        self._max_peers = max_peers
        self._clock = clock
        self._peers: dict[str, _Peer] = {}

    @staticmethod
    def peer_key(identity: Identity) -> str:
        """An authenticated caller's id (callers behind one proxy share its address);
        otherwise the peer's IP address (not its port: each connection has a new one)."""
        if identity.caller not in ("", "-"):
            return "caller:" + identity.caller[:MAX_IDENTITY]
        address = peer_ip(identity.peer)
        return str(address) if address is not None else identity.peer[:MAX_VALUE] or "-"

    def admit(self, identity: Identity, reason: str) -> tuple[bool, list[dict[str, Any]]]:
        """Whether this refusal's record may be written, and summaries now due."""
        now = self._clock()
        key = self.peer_key(identity)
        peer = self._peers.get(key)
        if peer is None:
            if len(self._peers) >= self._max_peers:
                self._evict(now)
            peer = self._peers[key] = _Peer(tokens=float(self._burst), stamp=now)
        peer.tokens = min(self._burst, peer.tokens + (now - peer.stamp) * self._rate)
        peer.stamp = now
        due = self.due(now)
        if peer.tokens >= 1:
            peer.tokens -= 1
            if peer.suppressed:
                due.append(self._summary(key, peer, now))
            return True, due
        if not peer.suppressed:
            peer.since = now
        peer.suppressed += 1
        if len(peer.reasons) < MAX_LIST or reason in peer.reasons:
            peer.reasons[reason] = peer.reasons.get(reason, 0) + 1
        return False, due

    def due(self, now: float | None = None, *, everything: bool = False) -> list[dict[str, Any]]:
        """Summaries of peers whose suppression started ``summary_after`` ago (all of
        them with ``everything``)."""
        now = self._clock() if now is None else now
        out = []
        for key, peer in self._peers.items():
            if peer.suppressed and (everything or now - peer.since >= self._summary_after):
                out.append(self._summary(key, peer, now))
        return out

    def _summary(self, key: str, peer: _Peer, now: float) -> dict[str, Any]:
        kind, _, caller = key.partition("caller:")
        summary: dict[str, Any] = {"decision": "suppressed"}
        summary |= {"caller": caller} if not kind and caller else {"peer": key}
        summary |= {
            "count": peer.suppressed,
            "seconds": round(now - peer.since, 3),
            "reasons": dict(peer.reasons),
        }
        peer.suppressed, peer.reasons = 0, {}
        return summary

    def _evict(self, now: float) -> None:
        # Forget the peers that have been quiet longest (their buckets would be full).
        quiet = sorted(self._peers, key=lambda k: self._peers[k].stamp)
        for key in quiet[: max(1, len(quiet) // 10)]:
            if not self._peers[key].suppressed:
                del self._peers[key]
        while len(self._peers) >= self._max_peers:
            del self._peers[next(iter(self._peers))]
