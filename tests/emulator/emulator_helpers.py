"""Constants and small assertions shared by the emulator tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx

KEY = "emulator-test-key"
OTHER_KEY = "emulator-other-key"
# A fixed "now" so that defaults and the 20-hour limit can be checked exactly.
NOW = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)

# The `mint` fixture: POST a body to /{version}/auth_tokens with the test key.
Mint = Callable[..., Awaitable[httpx.Response]]


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The ``error`` object of a Google-shaped error body (asserts the shape)."""
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert error["code"] == response.status_code
    assert {"code", "message", "status"} <= set(error)
    return error


def details_of(error: dict[str, Any], type_name: str) -> list[dict[str, Any]]:
    """Every detail of type ``google.rpc.<type_name>`` in an error object."""
    wanted = f"type.googleapis.com/google.rpc.{type_name}"
    return [d for d in error.get("details", []) if d.get("@type") == wanted]


def rfc3339(moment: datetime) -> str:
    """``2030-01-01T12:00:00Z`` for an aware datetime."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
