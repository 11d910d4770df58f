"""Scrubbing what the upstream says before any of it reaches a caller, a log or an audit
record (docs/security.md, "Secrets").

Two kinds of upstream value:

- **enum-like** (``error.status``, ``ErrorInfo.reason``, QuotaFailure ``subject``): kept
  only when it matches a strict pattern and holds no secret; otherwise dropped;
- **free text** (``error.message``, QuotaFailure ``description``): NFKC-normalised, then
  every spelling of the API key is replaced by ``<redacted>``: any letter case, percent
  encoded, hex, and base64 (standard and URL-safe, at each of the three alignments it can
  take inside a longer base64 string); so are ``auth_tokens/…`` names and strings shaped
  like Google API keys or tokens. The result is cut to 500 characters.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
import urllib.parse
from collections.abc import Iterable

REDACTED = "<redacted>"
MAX_TEXT = 500
# ``error.status`` and ``ErrorInfo.reason`` are UPPER_SNAKE_CASE names in Google's APIs.
ENUM_LIKE = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
# QuotaFailure subjects are ids such as ``project:123`` or ``GenerateRequestsPerMinute``.
SUBJECT_LIKE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/@-]{0,127}$")
_SECRETISH = re.compile(
    r"(auth_tokens/[A-Za-z0-9_\-.]+|AIza[0-9A-Za-z_\-]{20,}|AQ\.[0-9A-Za-z_\-.]{10,})"
)
# Shorter than this, a secret's spellings would match ordinary words: not a real key.
_MIN_SECRET = 8


def _base64_forms(secret: bytes) -> set[str]:
    """The stable core of ``secret``'s base64 text at each alignment inside a stream."""
    forms = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + secret).decode()
        # Drop the characters that depend on the bytes around the secret.
        head = (offset * 8 + 5) // 6
        tail = len(encoded.rstrip("=")) - ((len(secret) + offset) * 8 // 6)
        core = encoded.rstrip("=")[head : len(encoded.rstrip("=")) - max(tail, 0) - 1]
        if len(core) >= _MIN_SECRET:
            forms.add(core)
            forms.add(core.replace("+", "-").replace("/", "_"))
    return forms


def spellings(secret: str) -> list[str]:
    """Every spelling of ``secret`` that free text is scrubbed of (case-insensitively)."""
    raw = secret.encode()
    forms = {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)}
    forms.add(binascii.hexlify(raw).decode())
    forms |= _base64_forms(raw)
    return sorted((f for f in forms if len(f) >= _MIN_SECRET), key=len, reverse=True)


class Redactor:
    """Scrubs upstream values of the given secrets (the API key)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        forms = [f for s in secrets if len(s) >= _MIN_SECRET for f in spellings(s)]
        self._pattern = (
            re.compile("|".join(re.escape(f) for f in forms), re.IGNORECASE) if forms else None
        )

    def contains_secret(self, text: str) -> bool:
        """Whether ``text`` holds a secret in any spelling (or a secret-shaped string)."""
        return self.text(text, limit=None) != unicodedata.normalize("NFKC", text)

    def contains_key(self, text: str) -> bool:
        """Whether ``text`` holds one of the given secrets in any spelling."""
        normal = unicodedata.normalize("NFKC", text)
        return self._pattern is not None and self._pattern.search(normal) is not None

    def text(self, value: object, *, limit: int | None = MAX_TEXT) -> str:
        """Free text with every secret spelling replaced, cut to ``limit`` characters."""
        text = unicodedata.normalize("NFKC", str(value or ""))
        if self._pattern is not None:
            text = self._pattern.sub(REDACTED, text)
        text = _SECRETISH.sub(REDACTED, text)
        if limit is not None and len(text) > limit:
            text = text[:limit] + "…"
        return text

    def enum(self, value: object, pattern: re.Pattern[str] = ENUM_LIKE) -> str:
        """``value`` when it is a string matching ``pattern`` and holding no secret,
        else ``""`` (dropped)."""
        if not isinstance(value, str) or not pattern.match(value):
            return ""
        return "" if self.contains_secret(value) else value
