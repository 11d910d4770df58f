"""Every failure livetokens can report, and the one table that maps it to gRPC.

The rest of the server raises :class:`Failure` with a :class:`Reason`; the
servicer turns it into a status with :func:`to_status`, in one place. Upstream
HTTP answers are classified into a Reason by :func:`classify_upstream`, the second
half of the same table. Anything that is not a Failure becomes INTERNAL with a
generic message (see ``servicer.py``), so no exception text, URL or secret can
reach a caller unmapped.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping, Sequence
from datetime import timedelta

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

DOMAIN = "livetokens.v1.TokenService"


class Reason(enum.StrEnum):
    """The `google.rpc.ErrorInfo.reason` values livetokens sends (see the RPC comment).

    The proto's `ErrorReason` enum lists the same names with an `ERROR_REASON_` prefix.
    """

    INVALID_REQUEST = "INVALID_REQUEST"
    REQUEST_ID_REUSED = "REQUEST_ID_REUSED"
    UPSTREAM_REJECTED_REQUEST = "UPSTREAM_REJECTED_REQUEST"
    UPSTREAM_RATE_LIMITED = "UPSTREAM_RATE_LIMITED"
    UPSTREAM_UNAVAILABLE = "UPSTREAM_UNAVAILABLE"
    DEADLINE_EXCEEDED = "DEADLINE_EXCEEDED"
    UPSTREAM_CREDENTIALS_REJECTED = "UPSTREAM_CREDENTIALS_REJECTED"
    UPSTREAM_MISCONFIGURED = "UPSTREAM_MISCONFIGURED"
    UPSTREAM_FAILED_PRECONDITION = "UPSTREAM_FAILED_PRECONDITION"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    POLICY_DENIED = "POLICY_DENIED"
    RATE_LIMITED = "RATE_LIMITED"
    AUDIT_UNAVAILABLE = "AUDIT_UNAVAILABLE"
    INTERNAL = "INTERNAL"
    REQUEST_UNDECODABLE = "REQUEST_UNDECODABLE"
    REQUEST_TOO_LARGE = "REQUEST_TOO_LARGE"
    OVERLOADED = "OVERLOADED"
    STATE_UNAVAILABLE = "STATE_UNAVAILABLE"


# The table: each Reason's gRPC code, by the canonical meaning of the codes. The proto's
# MintToken comment documents the same rows (with when and whether to retry), and
# tests/server/test_contract_descriptors.py checks that the two agree.
TABLE: Mapping[Reason, grpc.StatusCode] = {
    Reason.INVALID_REQUEST: grpc.StatusCode.INVALID_ARGUMENT,
    Reason.REQUEST_ID_REUSED: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.UPSTREAM_REJECTED_REQUEST: grpc.StatusCode.INVALID_ARGUMENT,
    Reason.UPSTREAM_RATE_LIMITED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Reason.UPSTREAM_UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    Reason.DEADLINE_EXCEEDED: grpc.StatusCode.DEADLINE_EXCEEDED,
    # Google refusing *our* key is the operator's problem, not the caller's: INTERNAL
    # (HTTP 500 to a mesh) pages the operator and tells the caller not to retry.
    Reason.UPSTREAM_CREDENTIALS_REJECTED: grpc.StatusCode.INTERNAL,
    Reason.UPSTREAM_MISCONFIGURED: grpc.StatusCode.INTERNAL,
    Reason.UPSTREAM_FAILED_PRECONDITION: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.UNAUTHENTICATED: grpc.StatusCode.UNAUTHENTICATED,
    Reason.POLICY_DENIED: grpc.StatusCode.PERMISSION_DENIED,
    Reason.RATE_LIMITED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Reason.AUDIT_UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    Reason.INTERNAL: grpc.StatusCode.INTERNAL,
    Reason.REQUEST_UNDECODABLE: grpc.StatusCode.INVALID_ARGUMENT,
    Reason.REQUEST_TOO_LARGE: grpc.StatusCode.INVALID_ARGUMENT,
    Reason.OVERLOADED: grpc.StatusCode.UNAVAILABLE,
    Reason.STATE_UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
}

# What a status may hold, so that it always fits in gRPC's trailers: clients drop
# trailers between 8 KiB (soft limit, at random) and 16 KiB (hard limit), with the
# ErrorInfo. The details travel base64-encoded (4/3) in grpc-status-details-bin and the
# message percent-encoded (up to 3x) in grpc-message; with these caps a status is at
# most about 6 KiB of trailers, whatever the failure (a few hundred bytes usually).
MAX_MESSAGE_BYTES = 400
MAX_VIOLATIONS = 20
# Field and quota violations together, in UTF-8 bytes.
MAX_VIOLATION_BYTES = 2_000
MAX_TEXT_BYTES = 200
MAX_METADATA = 8
ELLIPSIS = "…"


@dataclasses.dataclass(frozen=True)
class FieldViolation:
    """One broken rule: the proto field path (AIP-193) and what is wrong with it."""

    field: str
    description: str


@dataclasses.dataclass(frozen=True)
class QuotaViolation:
    """One exceeded quota, as in `google.rpc.QuotaFailure.Violation`."""

    subject: str
    description: str


class Failure(Exception):
    """A failure with everything needed to report it to the caller.

    ``message`` is shown to the caller: it must never contain a secret.
    """

    def __init__(
        self,
        reason: Reason,
        message: str,
        *,
        field_violations: Sequence[FieldViolation] = (),
        metadata: Mapping[str, str] | None = None,
        retry_delay: timedelta | None = None,
        quota_violations: Sequence[QuotaViolation] = (),
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.field_violations = tuple(field_violations)
        self.metadata = dict(metadata or {})
        self.retry_delay = retry_delay
        self.quota_violations = tuple(quota_violations)

    @property
    def code(self) -> grpc.StatusCode:
        """The gRPC code from the table."""
        return TABLE[self.reason]

    def __repr__(self) -> str:
        return f"Failure({self.reason.value}, {self.message!r})"


def clip(text: str, limit: int = MAX_TEXT_BYTES) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, ending in … when it was cut."""
    data = text.encode("utf-8", errors="replace")
    if len(data) <= limit:
        return text
    cut = data[: max(0, limit - len(ELLIPSIS.encode()))]
    return cut.decode("utf-8", errors="ignore") + ELLIPSIS


def invalid_request(
    violations: Sequence[FieldViolation], reason: Reason = Reason.INVALID_REQUEST
) -> Failure:
    """The INVALID_REQUEST (or ``reason``) failure for a list of violations, all of them
    at once (the status reports the first :data:`MAX_VIOLATIONS` and how many more)."""
    named = list(dict.fromkeys(v.field for v in violations))
    fields = ", ".join(clip(name, 80) for name in named[:5])
    if len(named) > 5:
        fields += f" and {len(named) - 5} more"
    what = "over livetokens' cost budget" if reason is Reason.REQUEST_TOO_LARGE else "invalid"
    return Failure(
        reason,
        f"The request is {what} ({len(violations)} problem(s): {fields}); "
        "see google.rpc.BadRequest for each field.",
        field_violations=violations,
    )


def _pack(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)  # type: ignore[arg-type]
    return packed


def _bounded(pairs: Sequence[tuple[str, str]], room: int) -> list[tuple[str, str]]:
    """The first pairs, each text clipped, at most :data:`MAX_VIOLATIONS` of them and
    ``room`` UTF-8 bytes in all."""
    shown: list[tuple[str, str]] = []
    size = 0
    for first, second in pairs[:MAX_VIOLATIONS]:
        pair = (clip(first), clip(second))
        size += len(pair[0].encode()) + len(pair[1].encode()) + 8
        if size > room:
            break
        shown.append(pair)
    return shown


def _size(pairs: Sequence[tuple[str, str]]) -> int:
    return sum(len(a.encode()) + len(b.encode()) + 8 for a, b in pairs)


def to_status_proto(failure: Failure) -> status_pb2.Status:
    """The `google.rpc.Status` for a Failure, with ErrorInfo first and other details after.

    Bounded whatever the failure: at most :data:`MAX_VIOLATIONS` violations and
    :data:`MAX_VIOLATION_BYTES` of them, texts clipped; when some are left out,
    ``ErrorInfo.metadata`` has ``fieldViolations`` (the total) and
    ``fieldViolationsOmitted``, and the message says how many more there were.
    """
    code = failure.code
    message = clip(failure.message, MAX_MESSAGE_BYTES)
    metadata = {clip(k, 32): clip(v, 96) for k, v in list(failure.metadata.items())[:MAX_METADATA]}
    violations = _bounded(
        [(v.field, v.description) for v in failure.field_violations[:MAX_VIOLATIONS]],
        MAX_VIOLATION_BYTES,
    )
    omitted = len(failure.field_violations) - len(violations)
    if omitted:
        metadata["fieldViolations"] = str(len(failure.field_violations))
        metadata["fieldViolationsOmitted"] = str(omitted)
        message += f" ({omitted} more violation(s) not shown.)"
    quota = _bounded(
        [(v.subject, v.description) for v in failure.quota_violations[:MAX_VIOLATIONS]],
        MAX_VIOLATION_BYTES - _size(violations),
    )
    details = [
        _pack(
            error_details_pb2.ErrorInfo(
                reason=failure.reason.value, domain=DOMAIN, metadata=metadata
            )
        )
    ]
    if violations:
        details.append(
            _pack(
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(field=f, description=d)
                        for f, d in violations
                    ]
                )
            )
        )
    if quota:
        details.append(
            _pack(
                error_details_pb2.QuotaFailure(
                    violations=[
                        error_details_pb2.QuotaFailure.Violation(subject=s, description=d)
                        for s, d in quota
                    ]
                )
            )
        )
    if failure.retry_delay is not None:
        delay = duration_pb2.Duration()
        delay.FromTimedelta(failure.retry_delay)
        details.append(_pack(error_details_pb2.RetryInfo(retry_delay=delay)))
    return status_pb2.Status(code=getattr(code_pb2, code.name), message=message, details=details)


def to_status(failure: Failure) -> grpc.Status:
    """The grpc.Status (code, message, details trailer) for a Failure."""
    return rpc_status.to_status(to_status_proto(failure))


def internal_failure() -> Failure:
    """The Failure reported for a bug: generic on purpose, the details stay in the log."""
    return Failure(
        Reason.INTERNAL, "livetokens hit an internal error; the server log has the details."
    )


# --- Upstream HTTP answers -------------------------------------------------------------


def classify_upstream(http_status: int, google_status: str, google_reason: str) -> Reason:
    """Which Reason an upstream HTTP error answer becomes.

    ``google_status`` is the body's ``error.status`` (e.g. ``INVALID_ARGUMENT``) and
    ``google_reason`` the ``ErrorInfo.reason`` Google sent, both empty when absent.
    Spec §7: 400 with reason API_KEY_INVALID is our key; 403 is our key lacking
    permission (or missing); 400 FAILED_PRECONDITION is the project's state.
    """
    if google_reason in {
        "API_KEY_INVALID",
        "API_KEY_SERVICE_BLOCKED",
        "API_KEY_HTTP_REFERRER_BLOCKED",
    }:
        return Reason.UPSTREAM_CREDENTIALS_REJECTED
    if http_status in (401, 403):
        return Reason.UPSTREAM_CREDENTIALS_REJECTED
    if http_status == 400:
        if google_status == "FAILED_PRECONDITION":
            return Reason.UPSTREAM_FAILED_PRECONDITION
        return Reason.UPSTREAM_REJECTED_REQUEST
    if http_status in (402, 429):
        return Reason.UPSTREAM_RATE_LIMITED
    if http_status == 504:
        return Reason.DEADLINE_EXCEEDED
    if http_status >= 500 or http_status == 408:
        return Reason.UPSTREAM_UNAVAILABLE
    # 404 (wrong version or path), 405, 409, 413, ...: our URL or configuration is wrong.
    return Reason.UPSTREAM_MISCONFIGURED


# Upstream answers that are safe and useful for livetokens itself to retry: Google did
# not mint anything, and the same request may well succeed. 429 is not retried here:
# the caller gets RetryInfo and decides.
RETRYABLE_UPSTREAM_STATUSES = frozenset({500, 502, 503})
