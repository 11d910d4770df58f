"""Helpers shared by the test suites (imported as `lt_support`; conftest modules collide)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import pathlib
from typing import Any

from livetokens.server import Settings, UpstreamSettings
from livetokens.server.settings import Secret, SecuritySettings
from livetokens.v1 import live_config_pb2 as lc
from livetokens.v1 import token_service_pb2 as ts

API_KEY = "test-api-key-0123456789"
MODEL = "gemini-live-2.5-flash-preview"

# `livetokens serve`'s admin listeners default to the fixed 127.0.0.1:8081/8082; a test's
# child server takes loopback port 0 instead, so that concurrent runs never collide.
LOOPBACK_ADMIN_ENV = {
    "LIVETOKENS_ADMIN_LISTEN": "127.0.0.1:0",
    "LIVETOKENS_HEALTH_LISTEN": "127.0.0.1:0",
}


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child `livetokens serve` in a test: this process's environment
    without livetokens or Gemini settings, unbuffered, admin listeners on loopback port 0
    (flags still win), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GEMINI_", "LIVETOKENS_"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env | LOOPBACK_ADMIN_ENV | extra


async def port_written(port_file: pathlib.Path) -> int:
    """The port a child server wrote to ``port_file`` (``--port-file``), once it is there;
    the caller bounds the wait."""
    while not port_file.exists() or not port_file.read_text().strip():  # noqa: ASYNC110, ASYNC240
        await asyncio.sleep(0.05)
    return int(port_file.read_text().split()[0])  # noqa: ASYNC240


def seed_request(**fields: Any) -> ts.TokenRequest:
    """The Elixir seed's constraints (AUDIO, temperature 0.7, session resumption) plus
    ``fields`` of TokenRequest (lock, uses, request_id, ...)."""
    config = lc.LiveConfig(
        response_modalities=[lc.MODALITY_AUDIO],
        temperature=0.7,
        session_resumption=lc.SessionResumptionConfig(),
    )
    return ts.TokenRequest(constraints=ts.LiveConstraints(model=MODEL, config=config), **fields)


def server_settings(upstream_url: str, **overrides: Any) -> Settings:
    """Settings for a test server on 127.0.0.1:0 against ``upstream_url``.

    ``upstream`` may be a dict of UpstreamSettings overrides. Callers are not
    authenticated (``insecure_no_auth``, allowed on loopback) unless ``security`` is given.
    """
    upstream = dataclasses.replace(
        UpstreamSettings(backoff_initial=0.01, backoff_max=0.05),
        base_url=upstream_url,
        **overrides.pop("upstream", {}),
    )
    base = Settings(
        listen="127.0.0.1:0",
        upstream=upstream,
        api_key=Secret(API_KEY),
        fingerprint_key=Secret("test-fingerprint-key"),
        grace_period=5.0,
        security=SecuritySettings(insecure_no_auth=True),
    )
    return dataclasses.replace(base, **overrides)
