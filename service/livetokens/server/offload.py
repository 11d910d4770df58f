"""Large requests are worked on in a worker thread, small ones inline.

Checking and translating a request costs a few microseconds per message, so a large
one could hold the event loop (every other caller's calls) for several ms
(docs/hardening.md has the measurements). Nearly all requests are small and stay
inline, where a thread hop would cost more than the work.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from livetokens.v1 import token_service_pb2 as ts

_T = TypeVar("_T")

# Requests larger than this (serialized bytes) go to a worker thread.
INLINE_BYTES = 4096


async def offload(
    request: ts.TokenRequest, work: Callable[..., _T], *args: Any, **kwargs: Any
) -> _T:
    """``work(*args, **kwargs)``, in a worker thread when ``request`` is larger than
    :data:`INLINE_BYTES`."""
    if request.ByteSize() <= INLINE_BYTES:
        return work(*args, **kwargs)
    return await asyncio.to_thread(work, *args, **kwargs)
