"""The state backend's and the idempotency cache's own counters, exported to /metrics.

The state package keeps plain attributes (it knows nothing of Prometheus); this module
reads them at scrape time through :meth:`Metrics.gauge_source` and
:meth:`Metrics.counter_source`. What each metric means, and the alert rules built on
them, are in docs/state.md ("Metrics and alerts").
"""

from __future__ import annotations

from collections.abc import Callable

from livetokens.server.idempotency import IdempotencyCache
from livetokens.server.metrics import Metrics
from livetokens.server.state import GuardedStore, MemoryStore, StateStore


def attribute(obj: object, name: str) -> Callable[[], float | None]:
    """Reads ``obj.name`` at scrape time; None (no sample) when it has none."""

    def read() -> float | None:
        value = getattr(obj, name, None)
        return None if value is None else float(value)

    return read


def _process_memory(state: StateStore) -> MemoryStore | None:
    """The memory this process holds idempotency entries in: the memory backend, or a
    Redis backend's local fallback (used in ``--state-failure-mode local``)."""
    if isinstance(state, MemoryStore):
        return state
    if isinstance(state, GuardedStore):
        return state.local
    return None


def export_state(metrics: Metrics, state: StateStore, idempotency: IdempotencyCache) -> None:
    """Register the state and idempotency metrics of one server."""
    guard = state if isinstance(state, GuardedStore) else None
    metrics.gauge_source(
        "livetokens_state_backend_up",
        "1 while the state backend answers, 0 while its circuit is open (the last calls, "
        "or the periodic probe, failed); the memory backend is always up.",
        (lambda: 0.0 if guard.down else 1.0) if guard is not None else (lambda: 1.0),
        labels={"backend": "memory" if guard is None else "redis"},
    )
    metrics.counter_source(
        "livetokens_state_unavailable",
        "Calls refused with STATE_UNAVAILABLE because the backend was down "
        "(--state-failure-mode closed).",
        attribute(guard, "unavailable_events") if guard is not None else lambda: 0.0,
    )
    metrics.counter_source(
        "livetokens_state_degraded",
        "Calls served from this process's memory because the backend was down "
        "(--state-failure-mode local).",
        attribute(guard, "degraded_events") if guard is not None else lambda: 0.0,
    )
    metrics.counter_source(
        "livetokens_state_outages",
        "Times the backend's circuit opened (it stopped answering).",
        attribute(guard, "outages") if guard is not None else lambda: 0.0,
    )
    primary = guard.primary if guard is not None else None
    metrics.counter_source(
        "livetokens_state_backend_calls",
        "Calls made to the shared backend (Redis backend).",
        attribute(primary, "calls"),
    )
    metrics.counter_source(
        "livetokens_state_backend_failures",
        "Calls to the shared backend that failed or timed out (Redis backend).",
        attribute(primary, "failures"),
    )
    metrics.gauge_source(
        "livetokens_idempotency_entries",
        "Idempotency entries held in this process (memory backend).",
        attribute(state, "entries"),
    )
    metrics.gauge_source(
        "livetokens_idempotency_bytes",
        "Bytes of idempotency entries held in this process (memory backend).",
        attribute(state, "bytes"),
    )
    memory = _process_memory(state)
    metrics.counter_source(
        "livetokens_idempotency_evictions",
        "Finished idempotency entries dropped early to stay within "
        "--idempotency-max-bytes (this process's memory).",
        attribute(memory, "evictions"),
    )
    metrics.counter_source(
        "livetokens_idempotency_expirations",
        "Idempotency entries dropped at the end of their lifetime (this process's memory).",
        attribute(memory, "expirations"),
    )
    metrics.gauge_source(
        "livetokens_idempotency_in_flight",
        "Mints with a request_id in flight in this process.",
        attribute(idempotency, "in_flight"),
    )
    metrics.counter_source(
        "livetokens_idempotency_late_writes",
        "Minted tokens whose idempotency entry could not be written when minted (the "
        "backend failed); the write is retried in the background.",
        attribute(idempotency, "late_writes"),
    )
