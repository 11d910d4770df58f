"""Helpers for the end-to-end tests: a movable clock and the inspection route."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from livetokens.emulator import INSPECT_PATH, Emulator, fingerprint


class MovableClock:
    """The emulator's "now": real time plus an offset a test can move forward."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, span: timedelta) -> None:
        """Move "now" forward by ``span``."""
        self.offset += span


async def sessions_of(emulator: Emulator, token_name: str, ca: Any) -> list[dict[str, Any]]:
    """The inspection route's sessions for one token, as any HTTP client sees them."""
    async with httpx.AsyncClient(base_url=emulator.base_url, verify=ca, timeout=10.0) as http:
        response = await http.get(
            INSPECT_PATH, params={"token_fingerprint": fingerprint(token_name)}
        )
    response.raise_for_status()
    sessions: list[dict[str, Any]] = response.json()["sessions"]
    return sessions
