"""An emulator of Google's Gemini ``auth_tokens`` endpoint (spec: gemini-auth-tokens.md §10).

A real aiohttp HTTP server on loopback that answers ``POST /{v1alpha,v1beta}/auth_tokens``
the way Google does: the same routes, key checks, body validation and error bodies,
plus fault injection. It is livetokens' default upstream when no Gemini key is set and
the upstream of every server test. Tokens it mints are not valid at Google.

Where Google's behaviour is not known (spec tag [U]) the emulator follows the spec's
working assumption, and the code says so next to the decision.
"""

from livetokens.emulator._cli import add_arguments, config_from_args, run_from_args
from livetokens.emulator._faults import Fault, FaultKind, FaultQueue
from livetokens.emulator._server import (
    CapturedRequest,
    Emulator,
    EmulatorConfig,
    StoredToken,
    fingerprint,
)

__all__ = [
    "CapturedRequest",
    "Emulator",
    "EmulatorConfig",
    "Fault",
    "FaultKind",
    "FaultQueue",
    "StoredToken",
    "add_arguments",
    "config_from_args",
    "fingerprint",
    "run_from_args",
]
