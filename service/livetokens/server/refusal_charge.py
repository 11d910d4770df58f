"""A refusal the caller caused costs it a token from its rate-limit bucket, like a mint,
so that a stream of bad requests is limited too."""

from __future__ import annotations

import contextlib

from livetokens.server.errors import Failure, Reason
from livetokens.server.security.identity import Identity
from livetokens.server.security.policy import PolicyStore
from livetokens.server.security.ratelimit import RateLimiter

# Refusals that the caller's request caused.
CALLER_FAULTS = frozenset(
    {
        Reason.REQUEST_UNDECODABLE,
        Reason.REQUEST_TOO_LARGE,
        Reason.INVALID_REQUEST,
        Reason.POLICY_DENIED,
        Reason.REQUEST_ID_REUSED,
    }
)


async def charge_refusal(
    failure: Failure,
    identity: Identity,
    *,
    policies: PolicyStore | None,
    rate_limiter: RateLimiter | None,
) -> None:
    """Take a token from the caller's bucket when ``failure`` is one of
    :data:`CALLER_FAULTS` and the caller has a rate; never raises a :class:`Failure`."""
    if failure.reason not in CALLER_FAULTS or rate_limiter is None or policies is None:
        return
    policy = policies.current().for_caller(identity.caller)
    if policy is None or policy.rate is None:
        return
    # An empty bucket raises RATE_LIMITED (an unreachable shared store
    # STATE_UNAVAILABLE): the refusal itself stands either way.
    with contextlib.suppress(Failure):
        await rate_limiter.acquire(identity.caller, policy.rate)
