"""Helpers shared by the test suites (imported as `lt_support`; conftest modules collide)."""

from __future__ import annotations

import dataclasses
from typing import Any

from livetokens.server import Settings, UpstreamSettings
from livetokens.server.settings import Secret, SecuritySettings

API_KEY = "test-api-key-0123456789"


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
