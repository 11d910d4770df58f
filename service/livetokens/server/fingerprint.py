"""Non-secret token fingerprints: `hmac-sha256:` + 32 hex digits of HMAC(key, name)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

PREFIX = "hmac-sha256:"


class Fingerprinter:
    """Computes fingerprints under one server-held key."""

    def __init__(self, key: bytes | None = None) -> None:
        self.ephemeral = key is None
        self._key = key if key is not None else secrets.token_bytes(32)

    def __call__(self, token_name: str) -> str:
        digest = hmac.new(self._key, token_name.encode(), hashlib.sha256).hexdigest()
        return PREFIX + digest[:32]
