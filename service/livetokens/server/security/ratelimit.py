"""How much: one token bucket per caller (Vault-style rate-limit quotas).

A bucket holds at most ``burst`` tokens and gains ``per_second`` tokens a second; a
mint takes one. An empty bucket refuses with RESOURCE_EXHAUSTED / RATE_LIMITED,
``QuotaFailure`` (subject = the caller) and ``RetryInfo`` saying when the next token
will be there. The buckets live in the state store (state/port.py): in this process's
memory by default, or in Redis, where every replica takes from the same bucket and the
RetryInfo delay is the shared bucket's. The clock is injected, so tests move time
instead of sleeping.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import timedelta

from livetokens.server.errors import Failure, QuotaViolation, Reason
from livetokens.server.security.policy import Rate
from livetokens.server.state.memory import MemoryStore
from livetokens.server.state.port import StateStore


class RateLimiter:
    """Token buckets by caller id, kept in a :class:`StateStore`."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        capacity: int = 100_000,
        *,
        store: StateStore | None = None,
    ) -> None:
        """``store`` None: a private in-memory store with at most ``capacity`` buckets
        (least recently used first out; a forgotten bucket comes back full) on ``clock``."""
        self.store: StateStore = (
            store if store is not None else MemoryStore(clock=clock, bucket_capacity=capacity)
        )

    def __len__(self) -> int:
        return int(getattr(self.store, "buckets", 0))

    async def acquire(self, caller: str, rate: Rate, *, deadline: float | None = None) -> None:
        """Take one token from ``caller``'s bucket, or raise RATE_LIMITED.

        The rate comes from the policy in force, so a reload that changes it applies
        at once (a bucket is capped to a smaller burst). A store that cannot answer
        raises STATE_UNAVAILABLE (or, in local mode, limits locally).
        """
        wait = await self.store.take(caller, rate.per_second, rate.burst, deadline=deadline)
        if wait <= 0:
            return
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
