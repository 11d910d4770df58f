"""One frozen, typed settings object, built once from flags and the environment.

Flags win over environment variables, which win over defaults. The Gemini API key
comes only from the environment (``GEMINI_API_KEY``) or a file
(``GEMINI_API_KEY_FILE``, e.g. a Kubernetes secret mount), never from a flag, so
it never shows in ``ps`` or shell history.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
from collections.abc import Mapping
from typing import Literal

GOOGLE_BASE_URL = "https://generativelanguage.googleapis.com"
API_VERSIONS = ("v1alpha", "v1beta")


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names it."""


class Secret:
    """A string that never shows itself in repr, str or logs."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself, for the one place that must send it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('<redacted>')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclasses.dataclass(frozen=True)
class UpstreamSettings:
    """How livetokens talks to Google's token endpoint."""

    base_url: str = GOOGLE_BASE_URL
    api_version: Literal["v1alpha", "v1beta"] = "v1alpha"
    connect_timeout: float = 3.0
    read_timeout: float = 10.0
    max_attempts: int = 3
    backoff_initial: float = 0.1
    backoff_max: float = 1.0
    max_connections: int = 512
    transport: Literal["aiohttp", "httpx"] = "aiohttp"


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything the server needs; pass it down, never read globals."""

    listen: str = "127.0.0.1:50051"
    upstream: UpstreamSettings = dataclasses.field(default_factory=UpstreamSettings)
    api_key: Secret | None = None
    # Key for token fingerprints (HMAC-SHA256). None: a random key per process, so
    # fingerprints are stable only within one run (the server warns at start-up).
    fingerprint_key: Secret | None = None
    grace_period: float = 10.0
    idempotency_capacity: int = 100_000
    max_concurrent_rpcs: int | None = None
    log_level: str = "INFO"


def _read_file(path: str, name: str) -> str:
    try:
        return pathlib.Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SettingsError(f"{name}: cannot read {path!r} ({exc.strerror})") from None


def secret_from_env(env: Mapping[str, str], name: str) -> Secret | None:
    """``$NAME`` or the contents of the file ``$NAME_FILE``; None when neither is set."""
    value = env.get(name, "").strip()
    file_path = env.get(f"{name}_FILE", "").strip()
    if value and file_path:
        raise SettingsError(f"set {name} or {name}_FILE, not both")
    if file_path:
        value = _read_file(file_path, f"{name}_FILE")
        if not value:
            raise SettingsError(f"{name}_FILE: {file_path!r} is empty")
    return Secret(value) if value else None


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be more than 0, got {raw!r}")
    return value


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if value < 1:
        raise SettingsError(f"{name} must be 1 or more, got {raw!r}")
    return value


def from_env(env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Settings from ``env`` (default: ``os.environ``), then ``overrides`` (from flags).

    Overrides whose value is None are ignored, so argparse defaults of None fall
    through to the environment.
    """
    env = os.environ if env is None else env
    given = {k: v for k, v in overrides.items() if v is not None}
    version = str(given.pop("api_version", env.get("LIVETOKENS_API_VERSION", "v1alpha")))
    if version not in API_VERSIONS:
        raise SettingsError(
            f"api version must be one of {', '.join(API_VERSIONS)}, got {version!r}"
        )
    transport = str(given.pop("transport", env.get("LIVETOKENS_UPSTREAM_TRANSPORT", "aiohttp")))
    if transport not in ("aiohttp", "httpx"):
        raise SettingsError(f"upstream transport must be aiohttp or httpx, got {transport!r}")
    base_url = str(given.pop("upstream_url", env.get("LIVETOKENS_UPSTREAM_URL", GOOGLE_BASE_URL)))
    if not base_url.startswith(("http://", "https://")):
        raise SettingsError(f"upstream URL must start with http:// or https://, got {base_url!r}")
    upstream = UpstreamSettings(
        base_url=base_url.rstrip("/"),
        api_version=version,  # type: ignore[arg-type]
        connect_timeout=_float(env, "LIVETOKENS_UPSTREAM_CONNECT_TIMEOUT", 3.0),
        read_timeout=_float(env, "LIVETOKENS_UPSTREAM_READ_TIMEOUT", 10.0),
        max_attempts=_int(env, "LIVETOKENS_UPSTREAM_MAX_ATTEMPTS", 3),
        max_connections=_int(env, "LIVETOKENS_UPSTREAM_MAX_CONNECTIONS", 512),
        transport=transport,  # type: ignore[arg-type]
    )
    listen = str(given.pop("listen", env.get("LIVETOKENS_LISTEN", "127.0.0.1:50051")))
    _check_listen(listen)
    settings = Settings(
        listen=listen,
        upstream=upstream,
        api_key=secret_from_env(env, "GEMINI_API_KEY"),
        fingerprint_key=secret_from_env(env, "LIVETOKENS_FINGERPRINT_KEY"),
        grace_period=_float(env, "LIVETOKENS_GRACE_PERIOD", 10.0),
        log_level=env.get("LIVETOKENS_LOG_LEVEL", "INFO").upper(),
    )
    if given:
        settings = dataclasses.replace(settings, **given)  # type: ignore[arg-type]
    return settings


def _check_listen(listen: str) -> None:
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise SettingsError(f"listen address must be HOST:PORT, got {listen!r}")


def environ_doc() -> dict[str, str]:
    """Environment variables and what they set (for --help and the README)."""
    return {
        "GEMINI_API_KEY / GEMINI_API_KEY_FILE": "Gemini API key, or a file holding it. "
        "Unset: `serve` starts the bundled emulator instead.",
        "LIVETOKENS_LISTEN": "gRPC listen address (default 127.0.0.1:50051).",
        "LIVETOKENS_UPSTREAM_URL": f"Token endpoint base URL (default {GOOGLE_BASE_URL}).",
        "LIVETOKENS_API_VERSION": "v1alpha (default) or v1beta.",
        "LIVETOKENS_UPSTREAM_CONNECT_TIMEOUT": "Seconds to connect to Google (default 3).",
        "LIVETOKENS_UPSTREAM_READ_TIMEOUT": "Seconds to wait for Google's answer (default 10).",
        "LIVETOKENS_UPSTREAM_MAX_ATTEMPTS": (
            "Attempts per mint on connection errors and 500/502/503 (default 3)."
        ),
        "LIVETOKENS_UPSTREAM_MAX_CONNECTIONS": "Connection pool size to Google (default 512).",
        "LIVETOKENS_UPSTREAM_TRANSPORT": "aiohttp (default) or httpx (for comparison).",
        "LIVETOKENS_FINGERPRINT_KEY / _FILE": (
            "HMAC key for token fingerprints (default: random per process)."
        ),
        "LIVETOKENS_GRACE_PERIOD": "Seconds in-flight mints get on SIGTERM (default 10).",
        "LIVETOKENS_LOG_LEVEL": "DEBUG, INFO (default), WARNING, ERROR.",
    }
