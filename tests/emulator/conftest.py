"""Fixtures for the emulator's own tests: a running Emulator on 127.0.0.1:0 and an httpx client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from emulator_helpers import KEY, NOW, Mint

from livetokens.emulator import Emulator, EmulatorConfig


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    """The default configuration; tests that need another one override this fixture."""
    return EmulatorConfig(api_keys=frozenset({KEY}), seed=1234, clock=lambda: NOW)


@pytest.fixture
async def emulator(emulator_config: EmulatorConfig) -> AsyncIterator[Emulator]:
    """A started emulator on 127.0.0.1 and a free port."""
    async with Emulator(emulator_config) as emu:
        yield emu


@pytest.fixture
async def http(emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client aimed at the emulator (no key by default)."""
    async with httpx.AsyncClient(base_url=emulator.base_url, timeout=10.0) as client:
        yield client


@pytest.fixture
def mint(http: httpx.AsyncClient) -> Mint:
    """POST a body to ``/{version}/auth_tokens`` with the test key (``key=None`` for none).

    ``body`` may be a JSON-able object, raw ``bytes``, or None for an empty body.
    """

    async def _mint(
        body: Any = None, *, version: str = "v1alpha", key: str | None = KEY
    ) -> httpx.Response:
        headers = {"content-type": "application/json"}
        if key is not None:
            headers["x-goog-api-key"] = key
        if body is None:
            content = b""
        elif isinstance(body, bytes):
            content = body
        else:
            content = httpx.Request("POST", "/", json=body).content
        return await http.post(f"/{version}/auth_tokens", content=content, headers=headers)

    return _mint
