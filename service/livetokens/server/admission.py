"""Admission control: at most ``limit`` mints in progress; the rest are shed at once.

A shed call gets UNAVAILABLE / OVERLOADED with RetryInfo, never gRPC's silent
CANCELLED, and costs almost nothing (no decode, no validation, no upstream call).
Counters are plain attributes so that a metrics exporter can read them. Sheds are
logged at most once a second, with how many calls were shed since the last line, so
an overload does not also flood the log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta

from livetokens.server.errors import Failure, Reason

log = logging.getLogger(__name__)

# How long a shed caller is told to wait: about the time a typical mint takes, so
# the retry finds some of the current ones finished.
RETRY_DELAY = timedelta(milliseconds=500)
LOG_INTERVAL = 1.0


class Admission:
    """Counts mints in progress against ``limit``. Not thread-safe: one event loop."""

    def __init__(self, limit: int, clock: Callable[[], float] = time.monotonic) -> None:
        """``limit``: mints allowed in progress at once (1 or more)."""
        if limit < 1:
            raise ValueError("limit must be 1 or more")
        self.limit = limit
        self.in_flight = 0
        self.admitted_total = 0
        self.shed_total = 0
        self._clock = clock
        self._unlogged = 0
        self._logged_at = -LOG_INTERVAL

    def enter(self) -> None:
        """Admit one mint (pair with :meth:`leave`), or raise OVERLOADED."""
        if self.in_flight >= self.limit:
            self.shed_total += 1
            self._unlogged += 1
            now = self._clock()
            if now - self._logged_at >= LOG_INTERVAL:
                log.warning(
                    "overloaded: shed %d call(s) since the last report (%d mints in "
                    "progress, limit %d, %d shed in all)",
                    self._unlogged,
                    self.in_flight,
                    self.limit,
                    self.shed_total,
                )
                self._logged_at = now
                self._unlogged = 0
            raise overloaded(self.limit)
        self.in_flight += 1
        self.admitted_total += 1

    def leave(self) -> None:
        """One admitted mint is done."""
        self.in_flight -= 1


def overloaded(limit: int) -> Failure:
    """The OVERLOADED failure: retry after :data:`RETRY_DELAY`."""
    return Failure(
        Reason.OVERLOADED,
        f"livetokens has {limit} mints in progress, its limit; retry after "
        f"{RETRY_DELAY.total_seconds():g}s (google.rpc.RetryInfo).",
        retry_delay=RETRY_DELAY,
        metadata={"maxConcurrentMints": str(limit)},
    )
