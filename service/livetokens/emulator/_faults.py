"""Fault injection: scripted failures (FIFO, each for ``count`` requests), a seeded error rate."""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum


class FaultKind(StrEnum):
    """What a fault does to the request it applies to."""

    STATUS = "status"  # answer an HTTP error with Google's body for that status
    RATE_LIMITED = "rate_limited"  # answer 429 with QuotaFailure, Help and RetryInfo
    RESET = "reset"  # close the connection without any answer
    MALFORMED = "malformed"  # answer a body that is not the documented shape
    LATENCY = "latency"  # delay the answer, then answer normally


@dataclass(frozen=True)
class Fault:
    """One scripted failure. Build it with the class methods, e.g. ``Fault.status(503, count=2)``.

    ``count`` is how many matching requests it applies to; ``None`` means every
    matching request until :meth:`FaultQueue.clear`. ``api_version`` (``"v1alpha"`` or
    ``"v1beta"``) limits it to requests on that version; ``None`` matches both.
    """

    kind: FaultKind
    count: int | None = 1
    api_version: str | None = None
    http_status: int = 200
    message: str | None = None
    retry_delay_s: float = 0.0
    delay_s: float = 0.0
    body: bytes = b""
    content_type: str = "application/json"

    def __post_init__(self) -> None:
        if self.count is not None and self.count < 1:
            raise ValueError(f"count must be at least 1 (or None for always), got {self.count}")
        if self.delay_s < 0 or self.retry_delay_s < 0:
            raise ValueError("delays must not be negative")
        if not 100 <= self.http_status <= 599:
            raise ValueError(f"not an HTTP status: {self.http_status}")

    @classmethod
    def status(
        cls,
        code: int,
        count: int | None = 1,
        *,
        message: str | None = None,
        api_version: str | None = None,
    ) -> Fault:
        """Answer ``code`` (e.g. 500, 503, 504) with Google's error body for it."""
        if code < 400:
            raise ValueError(f"a status fault needs an error status, got {code}")
        return cls(FaultKind.STATUS, count, api_version, http_status=code, message=message)

    @classmethod
    def rate_limited(
        cls, retry_delay_s: float = 25.0, count: int | None = 1, *, api_version: str | None = None
    ) -> Fault:
        """Answer 429 RESOURCE_EXHAUSTED with QuotaFailure, Help and ``RetryInfo.retryDelay``."""
        return cls(
            FaultKind.RATE_LIMITED, count, api_version, http_status=429, retry_delay_s=retry_delay_s
        )

    @classmethod
    def reset(cls, count: int | None = 1, *, api_version: str | None = None) -> Fault:
        """Read the request, then drop the connection (TCP reset) without answering."""
        return cls(FaultKind.RESET, count, api_version)

    @classmethod
    def malformed(
        cls,
        count: int | None = 1,
        *,
        body: bytes | None = None,
        status: int = 200,
        content_type: str = "application/json",
        api_version: str | None = None,
    ) -> Fault:
        """Answer ``status`` (200 by default) with a body that is not the documented shape.

        The default body is JSON without ``name``; pass ``body`` for anything else
        (for example truncated JSON, or an HTML error page with ``status=502``).
        """
        return cls(
            FaultKind.MALFORMED,
            count,
            api_version,
            http_status=status,
            body=b'{"unexpected": "shape"}' if body is None else body,
            content_type=content_type,
        )

    @classmethod
    def latency(
        cls, seconds: float, count: int | None = 1, *, api_version: str | None = None
    ) -> Fault:
        """Wait ``seconds`` before answering; the answer itself is the normal one."""
        return cls(FaultKind.LATENCY, count, api_version, delay_s=seconds)


@dataclass
class _Pending:
    fault: Fault
    remaining: int | None


class FaultQueue:
    """The faults waiting to be applied, first in first out, plus a seeded error rate.

    A request takes the oldest queued fault that matches its API version; when no
    queued fault matches and an error rate is set, one seeded random draw decides
    whether it fails. The same seed and the same request order give the same failures.
    """

    def __init__(self, seed: int | None = None) -> None:
        self._queue: list[_Pending] = []
        # Not for security: a reproducible sequence of injected failures.
        self._rng = random.Random(seed)  # noqa: S311
        self._rate = 0.0
        self._rate_status = 503
        self._rate_version: str | None = None

    def push(self, fault: Fault) -> None:
        """Queue ``fault`` behind the ones already waiting."""
        self._queue.append(_Pending(fault, fault.count))

    def set_error_rate(
        self, rate: float, status: int = 503, *, api_version: str | None = None
    ) -> None:
        """Fail each request with probability ``rate`` (0..1) with Google's body for ``status``."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"error rate must be within [0, 1], got {rate}")
        if status < 400:
            raise ValueError(f"the error status must be an error, got {status}")
        self._rate, self._rate_status, self._rate_version = rate, status, api_version

    def clear(self) -> None:
        """Drop every queued fault and the error rate (the random sequence continues)."""
        self._queue.clear()
        self._rate = 0.0

    @property
    def pending(self) -> list[tuple[Fault, int | None]]:
        """Each queued fault with the number of requests it still applies to."""
        return [(p.fault, p.remaining) for p in self._queue]

    @property
    def error_rate(self) -> float:
        """The probability of an injected error, 0 when none is set."""
        return self._rate

    def take(self, api_version: str) -> tuple[Fault, str] | None:
        """The fault for the next request on ``api_version`` and its label, or None."""
        for index, pending in enumerate(self._queue):
            if pending.fault.api_version not in (None, api_version):
                continue
            if pending.remaining is not None:
                pending.remaining -= 1
                if pending.remaining == 0:
                    del self._queue[index]
            return pending.fault, pending.fault.kind.value
        if (
            self._rate > 0
            and self._rate_version in (None, api_version)
            and self._rng.random() < self._rate
        ):
            return Fault.status(self._rate_status), "error_rate"
        return None


def duration_json(seconds: float) -> str:
    """A ``google.protobuf.Duration`` in JSON form: 25 → ``"25s"``, 1.5 → ``"1.5s"``."""
    if float(seconds).is_integer():
        return f"{int(seconds)}s"
    return f"{seconds:.9f}".rstrip("0") + "s"
