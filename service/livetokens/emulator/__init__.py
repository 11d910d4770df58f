"""An emulator of Google's Gemini ``auth_tokens`` endpoint (spec: gemini-auth-tokens.md §10).

A real aiohttp HTTP server on loopback that answers ``POST /{v1alpha,v1beta}/auth_tokens``
the way Google does: the same routes, key checks, body validation and error bodies,
plus fault injection, and the Live WebSocket ``…BidiGenerateContentConstrained`` that
enforces the tokens it minted (optionally over TLS). It is livetokens' default upstream
when no Gemini key is set and the upstream of every server test. Tokens it mints are
not valid at Google.

Where Google's behaviour is not known (spec tag [U]) the emulator follows the spec's
working assumption, and the code says so next to the decision.
"""

from livetokens.emulator._cli import add_arguments, config_from_args, run_from_args
from livetokens.emulator._faults import Fault, FaultKind, FaultQueue
from livetokens.emulator._live import INSPECT_PATH, LiveSession, merge_setup
from livetokens.emulator._server import (
    CapturedRequest,
    Emulator,
    EmulatorConfig,
    StoredToken,
    fingerprint,
)
from livetokens.emulator._tls import LoopbackTLS, TLSUnavailable, loopback_tls

__all__ = [
    "INSPECT_PATH",
    "CapturedRequest",
    "Emulator",
    "EmulatorConfig",
    "Fault",
    "FaultKind",
    "FaultQueue",
    "LiveSession",
    "LoopbackTLS",
    "StoredToken",
    "TLSUnavailable",
    "add_arguments",
    "config_from_args",
    "fingerprint",
    "loopback_tls",
    "merge_setup",
    "run_from_args",
]
