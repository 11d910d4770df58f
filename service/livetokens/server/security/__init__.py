"""Security: who is calling, what they may mint, how often, and the audit trail.

- :mod:`.identity`: mutual TLS, bearer secrets and trusted-proxy headers → :class:`Identity`;
- :mod:`.policy`: the policy file and the effective request within it;
- :mod:`.ratelimit`: a token bucket per caller;
- :mod:`.audit`: the fail-closed JSON-lines audit log;
- :mod:`.tls`: server credentials that follow certificate rotation;
- :mod:`.runtime`: all of it assembled from :class:`~livetokens.server.settings.SecuritySettings`.
"""

from livetokens.server.security.audit import AuditLog, AuditUnavailable
from livetokens.server.security.identity import (
    Authenticator,
    CallInfo,
    Identity,
    Unauthenticated,
)
from livetokens.server.security.policy import (
    CallerPolicy,
    Policy,
    PolicyError,
    PolicyStore,
    apply_policy,
    hash_secret,
    load_policy,
    parse_policy,
)
from livetokens.server.security.ratelimit import RateLimiter
from livetokens.server.security.runtime import Security, build_security

__all__ = [
    "AuditLog",
    "AuditUnavailable",
    "Authenticator",
    "CallInfo",
    "CallerPolicy",
    "Identity",
    "Policy",
    "PolicyError",
    "PolicyStore",
    "RateLimiter",
    "Security",
    "Unauthenticated",
    "apply_policy",
    "build_security",
    "hash_secret",
    "load_policy",
    "parse_policy",
]
