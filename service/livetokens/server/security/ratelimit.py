"""How much: one token bucket per caller (Vault-style rate-limit quotas).

A bucket holds at most ``burst`` tokens and gains ``per_second`` tokens a second; a
mint takes one. An empty bucket refuses with RESOURCE_EXHAUSTED / RATE_LIMITED,
``QuotaFailure`` (subject = the caller) and ``RetryInfo`` saying when the next token
will be there. The clock is injected, so tests move time instead of sleeping.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import time
from collections.abc import Callable
from datetime import timedelta

from livetokens.server.errors import Failure, QuotaViolation, Reason
from livetokens.server.security.policy import Rate


@dataclasses.dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets by caller id. At most ``capacity`` buckets are kept, least recently
    used first out (a forgotten bucket comes back full)."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, capacity: int = 100_000
    ) -> None:
        self._clock = clock
        self._capacity = capacity
        self._buckets: collections.OrderedDict[str, _Bucket] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def acquire(self, caller: str, rate: Rate) -> None:
        """Take one token from ``caller``'s bucket, or raise RATE_LIMITED.

        The rate comes from the policy in force, so a reload that changes it applies
        at once (a bucket is capped to a smaller burst).
        """
        now = self._clock()
        bucket = self._buckets.get(caller)
        if bucket is None:
            bucket = _Bucket(float(rate.burst), now)
            self._buckets[caller] = bucket
            while len(self._buckets) > self._capacity:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(caller)
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(float(rate.burst), bucket.tokens + elapsed * rate.per_second)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return
        wait = (1.0 - bucket.tokens) / rate.per_second
        # Whole milliseconds, rounded up, so that a retry after the delay succeeds.
        delay = timedelta(milliseconds=math.ceil(wait * 1000))
        raise Failure(
            Reason.RATE_LIMITED,
            f"This caller may mint at most {rate.describe()}; retry after "
            f"{delay.total_seconds():g}s (google.rpc.RetryInfo).",
            retry_delay=delay,
            quota_violations=[
                QuotaViolation(subject=caller, description=f"mint rate {rate.describe()}")
            ],
            metadata={"rate": rate.text, "burst": str(rate.burst)},
        )
