"""Shared state behind one port: idempotency claims and rate buckets (docs/state.md).

- :mod:`.port`: the protocol and its result types;
- :mod:`.memory`: the in-process adapter (default; per process);
- :mod:`.redis_store`: the Redis adapter (shared by replicas);
- :mod:`.guard`: the failure mode around a shared adapter;
- :func:`build_store`: the store for a :class:`~livetokens.server.settings.StateSettings`.
"""

from livetokens.server.state.build import build_store
from livetokens.server.state.guard import GuardedStore, state_unavailable
from livetokens.server.state.memory import MemoryStore
from livetokens.server.state.port import (
    Claimed,
    ClaimResult,
    Done,
    IdemKey,
    Pending,
    StateStore,
    StateUnavailable,
)

__all__ = [
    "ClaimResult",
    "Claimed",
    "Done",
    "GuardedStore",
    "IdemKey",
    "MemoryStore",
    "Pending",
    "StateStore",
    "StateUnavailable",
    "build_store",
    "state_unavailable",
]
