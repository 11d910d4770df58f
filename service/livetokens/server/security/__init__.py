"""Security: who is calling, what they may mint, how often, and the audit trail.

- :mod:`.identity`: mutual TLS, bearer secrets and trusted-proxy headers → :class:`Identity`;
- :mod:`.policy`: the policy file and the effective request within it;
- :mod:`.ratelimit`: a token bucket per caller;
- :mod:`.audit`: the fail-closed JSON-lines audit log;
- :mod:`.tls`: server credentials that follow certificate rotation;
- :mod:`.runtime`: all of it assembled from :class:`~livetokens.server.settings.SecuritySettings`.
"""
