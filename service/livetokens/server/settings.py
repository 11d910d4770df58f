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
    # The whole of one mint at Google (connect, send, the whole answer, and retries),
    # also bounded by the caller's deadline: a trickling answer cannot hold a mint longer.
    total_timeout: float = 15.0


@dataclasses.dataclass(frozen=True)
class LimitSettings:
    """What one call may cost and how many may run at once (docs/hardening.md)."""

    # Requests larger than this get REQUEST_TOO_LARGE before they are decoded. gRPC's
    # own receive limit is set to twice this: above it grpc refuses the call itself
    # (RESOURCE_EXHAUSTED, no ErrorInfo) without buffering it.
    max_request_bytes: int = 512 * 1024
    # Mints in progress at once; more get UNAVAILABLE / OVERLOADED with RetryInfo.
    max_concurrent_mints: int = 4096
    # gRPC core's queue of calls not yet handed to livetokens
    # (grpc.server.max_pending_requests, default 1000 there): above it gRPC cancels calls
    # silently, so it is sized above max_concurrent_mints.
    max_pending_calls: int = 16384


@dataclasses.dataclass(frozen=True)
class SecuritySettings:
    """Who may call, what they may mint, and where decisions are recorded (docs/security.md).

    The defaults authenticate nobody, so a server built from them refuses to start
    until it is given TLS with client certificates, bearer credentials (in the
    policy file), a trusted proxy, or ``insecure_no_auth`` on a loopback address.
    """

    # TLS: the server's certificate chain and key (PEM files), and the CA bundle that
    # client certificates must chain to (mutual TLS; every connection then needs one).
    tls_cert: pathlib.Path | None = None
    tls_key: pathlib.Path | None = None
    tls_client_ca: pathlib.Path | None = None
    # The policy file (TOML). None: every authenticated caller may mint anything the
    # contract allows, with no rate limit.
    policy_file: pathlib.Path | None = None
    # Addresses or CIDR ranges of proxies (mesh sidecars) whose identity header is
    # believed. Empty: the header is ignored.
    trusted_proxies: tuple[str, ...] = ()
    # Accept trusted-proxy ranges wider than /8 (IPv4) or /32 (IPv6), /0 included.
    trust_wide_proxy_ranges: bool = False
    identity_header: str = "x-forwarded-client-cert"
    # Callers without credentials are accepted as "anonymous". Loopback only unless
    # insecure_allow_non_loopback, which also allows plaintext on other addresses.
    insecure_no_auth: bool = False
    insecure_allow_non_loopback: bool = False
    # The JSON-lines audit log. None: no audit records (the server warns).
    audit_log: pathlib.Path | None = None
    audit_fsync: bool = True
    # Return tokens even when their audit record cannot be written (not recommended).
    audit_fail_open: bool = False
    # HMAC key chaining the audit records. None: derived from the fingerprint key, else
    # random per process (docs/security.md, "Tamper evidence").
    audit_key: Secret | None = None
    # Start the bundled upstream emulator (development only; its tokens fail at Google).
    emulator: bool = False


@dataclasses.dataclass(frozen=True)
class ObservabilitySettings:
    """The admin listeners, drain timings, logs, traces and connection lifetimes
    (README, "Deploying").

    The dataclass defaults suit a library or a test (no admin listener, no drain
    delay); ``from_env`` (the ``serve`` command) defaults the listeners to loopback
    ports 8081 (HTTP) and 8082 (gRPC health) and the drain delay to 5 s.
    """

    # HTTP /livez /readyz /metrics. None: not served.
    admin_listen: str | None = None
    # grpc.health.v1 alone, plaintext, for Kubernetes' `grpc:` probes. None: not served.
    health_listen: str | None = None
    # Listeners ("admin", "health") left at serve's loopback default: if their port is
    # taken (a second local instance, a test run), start-up warns and goes on without
    # them. A listener given explicitly (flag or variable) must bind or start-up fails.
    optional_listeners: tuple[str, ...] = ()
    # Seconds readiness reports NOT_SERVING, while the main listener still accepts
    # calls, before the listener stops (the endpoint-removal window).
    drain_delay: float = 0.0
    log_format: Literal["text", "json"] = "text"
    # OTLP/gRPC collector endpoint (e.g. http://otel-collector:4317). None: no traces.
    otlp_endpoint: str | None = None
    # gRPC connection lifetimes, in seconds (0: off). grpc-core adds +-10% jitter to
    # the max age, so connections of one burst do not all close at once.
    keepalive_time: float = 60.0
    keepalive_timeout: float = 20.0
    max_connection_age: float = 300.0
    max_connection_age_grace: float = 30.0
    # Seconds between checks of the policy file for a change (0: only SIGHUP reloads).
    policy_poll_interval: float = 5.0


@dataclasses.dataclass(frozen=True)
class StateSettings:
    """Where idempotency entries and rate buckets live, and what happens when that
    place fails (docs/state.md)."""

    # "memory" (per process) or a redis:// / rediss:// URL shared by every replica.
    backend: str = "memory"
    # closed: refuse with STATE_UNAVAILABLE while Redis is unreachable; local: carry
    # on with per-process deduplication and limits (logged and counted).
    failure_mode: Literal["closed", "local"] = "closed"
    # Password of the Redis ACL user (LIVETOKENS_STATE_PASSWORD or _FILE; never a flag).
    password: Secret | None = None
    # Byte bound of the in-memory idempotency entries (memory backend, and local mode).
    idempotency_max_bytes: int = 64 * 1024 * 1024
    # Seconds a claim outlives a replica that died mid-mint.
    lease: float = 5.0
    # Cap in seconds on one Redis call (the caller's deadline bounds it too).
    call_timeout: float = 1.0
    # Server processes sharing the listen port (SO_REUSEPORT).
    workers: int = 1
    # With the memory backend and workers > 1: the operator accepts per-worker state.
    accept_per_worker_state: bool = False


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
    max_concurrent_rpcs: int | None = None
    log_level: str = "INFO"
    security: SecuritySettings = dataclasses.field(default_factory=SecuritySettings)
    observability: ObservabilitySettings = dataclasses.field(default_factory=ObservabilitySettings)
    limits: LimitSettings = dataclasses.field(default_factory=LimitSettings)
    state: StateSettings = dataclasses.field(default_factory=StateSettings)


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
        total_timeout=_float(env, "LIVETOKENS_UPSTREAM_TIMEOUT", 15.0),
    )
    listen = str(given.pop("listen", env.get("LIVETOKENS_LISTEN", "127.0.0.1:50051")))
    _check_listen(listen)
    security = _security(env, given)
    observability = _observability(env, given)
    limits = _limits(env, given)
    state = _state(env, given)
    settings = Settings(
        listen=listen,
        upstream=upstream,
        api_key=secret_from_env(env, "GEMINI_API_KEY"),
        fingerprint_key=secret_from_env(env, "LIVETOKENS_FINGERPRINT_KEY"),
        grace_period=_float(env, "LIVETOKENS_GRACE_PERIOD", 10.0),
        log_level=env.get("LIVETOKENS_LOG_LEVEL", "INFO").upper(),
        security=security,
        observability=observability,
        limits=limits,
        state=state,
    )
    if given:
        settings = dataclasses.replace(settings, **given)  # type: ignore[arg-type]
    return settings


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    if raw.strip().lower() in _TRUE:
        return True
    if raw.strip().lower() in _FALSE:
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def _path(value: object) -> pathlib.Path | None:
    text = str(value).strip() if value is not None else ""
    return pathlib.Path(text) if text else None


# SecuritySettings fields that flags may override, and the variable each one reads.
_SECURITY_ENV = {
    "tls_cert": "LIVETOKENS_TLS_CERT",
    "tls_key": "LIVETOKENS_TLS_KEY",
    "tls_client_ca": "LIVETOKENS_TLS_CLIENT_CA",
    "policy_file": "LIVETOKENS_POLICY",
    "trusted_proxies": "LIVETOKENS_TRUSTED_PROXIES",
    "identity_header": "LIVETOKENS_IDENTITY_HEADER",
    "insecure_no_auth": "LIVETOKENS_INSECURE_NO_AUTH",
    "insecure_allow_non_loopback": "LIVETOKENS_INSECURE_ALLOW_NON_LOOPBACK",
    "audit_log": "LIVETOKENS_AUDIT_LOG",
    "audit_fsync": "LIVETOKENS_AUDIT_FSYNC",
    "audit_fail_open": "LIVETOKENS_AUDIT_FAIL_OPEN",
    "emulator": "LIVETOKENS_EMULATOR",
    "trust_wide_proxy_ranges": "LIVETOKENS_INSECURE_TRUST_WIDE_PROXY_RANGES",
}


def _security(env: Mapping[str, str], given: dict[str, object]) -> SecuritySettings:
    """SecuritySettings from the environment, with flags (popped from ``given``) on top."""
    flags = {name: given.pop(name) for name in list(given) if name in _SECURITY_ENV}
    defaults = SecuritySettings()

    def flag_or_env(name: str) -> object:
        return flags[name] if name in flags else env.get(_SECURITY_ENV[name])

    def boolean(name: str) -> bool:
        if name in flags:
            return bool(flags[name])
        return _bool(env, _SECURITY_ENV[name], bool(getattr(defaults, name)))

    raw_proxies = flag_or_env("trusted_proxies")
    if isinstance(raw_proxies, str):
        raw_proxies = raw_proxies.split(",")
    proxies = tuple(
        str(p).strip()
        for p in (raw_proxies if isinstance(raw_proxies, list | tuple) else ())
        if str(p).strip()
    )
    header = str(flag_or_env("identity_header") or defaults.identity_header).strip().lower()
    if not header or any(ch.isspace() or ch == ":" for ch in header):
        raise SettingsError(f"identity header must be a header name, got {header!r}")
    security = SecuritySettings(
        tls_cert=_path(flag_or_env("tls_cert")),
        tls_key=_path(flag_or_env("tls_key")),
        tls_client_ca=_path(flag_or_env("tls_client_ca")),
        policy_file=_path(flag_or_env("policy_file")),
        trusted_proxies=proxies,
        identity_header=header,
        insecure_no_auth=boolean("insecure_no_auth"),
        insecure_allow_non_loopback=boolean("insecure_allow_non_loopback"),
        audit_log=_path(flag_or_env("audit_log")),
        audit_fsync=boolean("audit_fsync"),
        audit_fail_open=boolean("audit_fail_open"),
        audit_key=secret_from_env(env, "LIVETOKENS_AUDIT_KEY"),
        emulator=boolean("emulator"),
        trust_wide_proxy_ranges=boolean("trust_wide_proxy_ranges"),
    )
    if (security.tls_cert is None) != (security.tls_key is None):
        raise SettingsError("TLS needs both a certificate and a key (--tls-cert and --tls-key)")
    if security.tls_client_ca is not None and security.tls_cert is None:
        raise SettingsError("--tls-client-ca needs --tls-cert and --tls-key (mutual TLS is TLS)")
    return security


# ObservabilitySettings fields that flags may override: variable, serve's default.
_OBSERVABILITY_ENV: dict[str, tuple[str, str]] = {
    "admin_listen": ("LIVETOKENS_ADMIN_LISTEN", "127.0.0.1:8081"),
    "health_listen": ("LIVETOKENS_HEALTH_LISTEN", "127.0.0.1:8082"),
    "drain_delay": ("LIVETOKENS_DRAIN_DELAY", "5"),
    "log_format": ("LIVETOKENS_LOG_FORMAT", "text"),
    "otlp_endpoint": ("LIVETOKENS_OTLP_ENDPOINT", ""),
    "keepalive_time": ("LIVETOKENS_KEEPALIVE_TIME", "60"),
    "max_connection_age": ("LIVETOKENS_MAX_CONNECTION_AGE", "300"),
    "max_connection_age_grace": ("LIVETOKENS_MAX_CONNECTION_AGE_GRACE", "30"),
    "policy_poll_interval": ("LIVETOKENS_POLICY_POLL_INTERVAL", "5"),
}
_OFF = frozenset({"", "off", "none"})


def _seconds(name: str, raw: object) -> float:
    try:
        value = float(str(raw))
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not value >= 0 or value == float("inf"):
        raise SettingsError(f"{name} must be 0 or more seconds, got {raw!r}")
    return value


def _observability(env: Mapping[str, str], given: dict[str, object]) -> ObservabilitySettings:
    """ObservabilitySettings from flags (popped from ``given``), the environment, and
    the ``serve`` defaults. ``off`` turns a listener off."""
    values: dict[str, str] = {}
    optional: list[str] = []
    for name, (var, default) in _OBSERVABILITY_ENV.items():
        if name in given:
            values[name] = str(given.pop(name)).strip()
        elif env.get(var) is not None:
            values[name] = env[var].strip()
        else:
            values[name] = default
            if name in ("admin_listen", "health_listen"):
                optional.append(name.removesuffix("_listen"))
    listeners: dict[str, str | None] = {}
    for name in ("admin_listen", "health_listen"):
        raw = values[name]
        listeners[name] = None if raw.lower() in _OFF else raw
        if listeners[name] is not None:
            _check_listen(raw, f"--{name.replace('_', '-')}")
    log_format = values["log_format"].lower()
    if log_format not in ("text", "json"):
        raise SettingsError(f"--log-format must be text or json, got {values['log_format']!r}")
    endpoint = values["otlp_endpoint"] or env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    if endpoint and not endpoint.startswith(("http://", "https://")):
        raise SettingsError(
            f"--otlp-endpoint must be a URL such as http://otel-collector:4317, got {endpoint!r}"
        )
    spans = {
        name: _seconds(f"--{name.replace('_', '-')}", values[name])
        for name in (
            "drain_delay",
            "keepalive_time",
            "max_connection_age",
            "max_connection_age_grace",
            "policy_poll_interval",
        )
    }
    return ObservabilitySettings(
        admin_listen=listeners["admin_listen"],
        health_listen=listeners["health_listen"],
        optional_listeners=tuple(optional),
        log_format=log_format,  # type: ignore[arg-type]
        otlp_endpoint=endpoint or None,
        **spans,
    )


# LimitSettings fields that flags may override, and the variable each one reads.
_LIMITS_ENV = {
    "max_request_bytes": "LIVETOKENS_MAX_REQUEST_BYTES",
    "max_concurrent_mints": "LIVETOKENS_MAX_CONCURRENT_MINTS",
    "max_pending_calls": "LIVETOKENS_MAX_PENDING_CALLS",
}


def _limits(env: Mapping[str, str], given: dict[str, object]) -> LimitSettings:
    """LimitSettings from the environment, with flags (popped from ``given``) on top."""
    defaults = LimitSettings()
    values: dict[str, int] = {}
    for name, variable in _LIMITS_ENV.items():
        if name in given:
            value = given.pop(name)
            if not isinstance(value, int) or value < 1:
                raise SettingsError(f"--{name.replace('_', '-')} must be 1 or more, got {value!r}")
            values[name] = value
        else:
            values[name] = _int(env, variable, getattr(defaults, name))
    if values["max_request_bytes"] > 64 * 1024 * 1024:
        raise SettingsError("max request bytes must be at most 64 MiB")
    return LimitSettings(**values)


# StateSettings fields that flags may override, and the variable each one reads.
_STATE_ENV = {
    "state": "LIVETOKENS_STATE",
    "state_failure_mode": "LIVETOKENS_STATE_FAILURE_MODE",
    "idempotency_max_bytes": "LIVETOKENS_IDEMPOTENCY_MAX_BYTES",
    "state_lease": "LIVETOKENS_STATE_LEASE",
    "state_timeout": "LIVETOKENS_STATE_TIMEOUT",
    "workers": "LIVETOKENS_WORKERS",
    "accept_per_worker_state": "LIVETOKENS_ACCEPT_PER_WORKER_STATE",
}


def _state(env: Mapping[str, str], given: dict[str, object]) -> StateSettings:
    """StateSettings from the environment, with flags (popped from ``given``) on top."""
    flags = {name: given.pop(name) for name in list(given) if name in _STATE_ENV}
    merged = {name: str(env[var]) for name, var in _STATE_ENV.items() if env.get(var)}
    merged.update({name: str(value) for name, value in flags.items()})
    defaults = StateSettings()
    backend = merged.get("state", defaults.backend).strip()
    if backend != "memory" and not backend.startswith(("redis://", "rediss://")):
        raise SettingsError(
            f"--state must be memory, redis://HOST:PORT/DB or rediss://HOST:PORT/DB, "
            f"got {backend.split('@')[-1]!r}"
        )
    mode = merged.get("state_failure_mode", defaults.failure_mode).strip().lower()
    if mode not in ("closed", "local"):
        raise SettingsError(f"--state-failure-mode must be closed or local, got {mode!r}")
    numbers = {
        "idempotency_max_bytes": (
            "--idempotency-max-bytes / LIVETOKENS_IDEMPOTENCY_MAX_BYTES",
            defaults.idempotency_max_bytes,
        ),
        "workers": ("--workers / LIVETOKENS_WORKERS", defaults.workers),
    }
    ints = {
        name: _int({var: merged[name]} if name in merged else {}, var, default)
        for name, (var, default) in numbers.items()
    }
    spans = {
        name: _float({var: merged[name]} if name in merged else {}, var, default)
        for name, var, default in (
            ("state_lease", "--state-lease / LIVETOKENS_STATE_LEASE", defaults.lease),
            ("state_timeout", "--state-timeout / LIVETOKENS_STATE_TIMEOUT", defaults.call_timeout),
        )
    }
    accept = "accept_per_worker_state" in flags and bool(flags["accept_per_worker_state"])
    if not accept:
        accept = _bool(env, "LIVETOKENS_ACCEPT_PER_WORKER_STATE", False)
    return StateSettings(
        backend=backend,
        failure_mode=mode,  # type: ignore[arg-type]
        password=secret_from_env(env, "LIVETOKENS_STATE_PASSWORD"),
        idempotency_max_bytes=ints["idempotency_max_bytes"],
        lease=spans["state_lease"],
        call_timeout=spans["state_timeout"],
        workers=ints["workers"],
        accept_per_worker_state=accept,
    )


def _check_listen(listen: str, name: str = "listen address") -> None:
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise SettingsError(f"{name} must be HOST:PORT, got {listen!r}")


def environ_doc() -> dict[str, str]:
    """Environment variables and what they set (for --help and the README)."""
    return {
        "GEMINI_API_KEY / GEMINI_API_KEY_FILE": "Gemini API key, or a file holding it. "
        "Required unless LIVETOKENS_EMULATOR is true.",
        "LIVETOKENS_EMULATOR": "true: start the bundled upstream emulator (development; its "
        "tokens are NOT valid at Google). Never implied by a missing key.",
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
        "LIVETOKENS_UPSTREAM_TIMEOUT": (
            "Seconds one mint may take at Google in all, retries included (default 15)."
        ),
        "LIVETOKENS_MAX_REQUEST_BYTES": (
            "Largest TokenRequest accepted, in bytes (default 524288); larger ones get "
            "REQUEST_TOO_LARGE."
        ),
        "LIVETOKENS_MAX_CONCURRENT_MINTS": (
            "Mints in progress at once (default 4096); more get UNAVAILABLE / OVERLOADED."
        ),
        "LIVETOKENS_MAX_PENDING_CALLS": (
            "gRPC core's queue of calls not yet handed to livetokens (default 16384)."
        ),
        "LIVETOKENS_FINGERPRINT_KEY / _FILE": (
            "HMAC key for token fingerprints (default: random per process)."
        ),
        "LIVETOKENS_GRACE_PERIOD": "Seconds in-flight mints get on SIGTERM (default 10).",
        "LIVETOKENS_LOG_LEVEL": "DEBUG, INFO (default), WARNING, ERROR.",
        "LIVETOKENS_EVENT_LOOP": "uvloop (default) or asyncio: the event loop `serve` runs on.",
        "LIVETOKENS_TLS_CERT / LIVETOKENS_TLS_KEY": (
            "Server certificate chain and private key (PEM files); enables TLS. "
            "Re-read when the files change."
        ),
        "LIVETOKENS_TLS_CLIENT_CA": (
            "CA bundle (PEM) that client certificates must chain to: mutual TLS, callers "
            "identified by their SPIFFE URI or DNS SAN."
        ),
        "LIVETOKENS_POLICY": (
            "Policy file (TOML, docs/security.md): callers, bearer credential hashes, limits. "
            "Reloaded on SIGHUP."
        ),
        "LIVETOKENS_TRUSTED_PROXIES": (
            "Comma-separated addresses/CIDRs of proxies whose identity header is trusted."
        ),
        "LIVETOKENS_INSECURE_TRUST_WIDE_PROXY_RANGES": (
            "true: accept trusted-proxy ranges wider than /8 (IPv4) or /32 (IPv6), /0 included."
        ),
        "LIVETOKENS_IDENTITY_HEADER": (
            "Identity header set by a trusted proxy (default x-forwarded-client-cert)."
        ),
        "LIVETOKENS_INSECURE_NO_AUTH": (
            "true: accept callers without credentials (loopback listen address only)."
        ),
        "LIVETOKENS_INSECURE_ALLOW_NON_LOOPBACK": (
            "true: allow plaintext or --insecure-no-auth on a non-loopback address."
        ),
        "LIVETOKENS_AUDIT_LOG": "Append-only JSON-lines audit log (default: none, with a warning).",
        "LIVETOKENS_AUDIT_FSYNC": "fsync each audit write before answering (default true).",
        "LIVETOKENS_ADMIN_LISTEN": (
            "HTTP admin address for /livez /readyz /metrics (default 127.0.0.1:8081; off)."
        ),
        "LIVETOKENS_HEALTH_LISTEN": (
            "Plaintext gRPC address serving only grpc.health.v1 (default 127.0.0.1:8082; off)."
        ),
        "LIVETOKENS_DRAIN_DELAY": (
            "Seconds readiness reports NOT_SERVING after SIGTERM before the listener stops "
            "(default 5)."
        ),
        "LIVETOKENS_LOG_FORMAT": "text (default) or json (one JSON object per line).",
        "LIVETOKENS_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT": (
            "OTLP/gRPC collector URL for traces (default: no traces)."
        ),
        "LIVETOKENS_KEEPALIVE_TIME": "Seconds between server keepalive pings (default 60; 0 off).",
        "LIVETOKENS_MAX_CONNECTION_AGE": (
            "Seconds before a connection gets GOAWAY so balancers can rebalance (default 300, "
            "+-10% jitter; 0 off)."
        ),
        "LIVETOKENS_MAX_CONNECTION_AGE_GRACE": (
            "Seconds calls on a GOAWAY'd connection get to finish (default 30)."
        ),
        "LIVETOKENS_POLICY_POLL_INTERVAL": (
            "Seconds between checks of the policy file for a change, e.g. a ConfigMap "
            "update (default 5; 0: SIGHUP only)."
        ),
        "LIVETOKENS_AUDIT_FAIL_OPEN": (
            "true: return tokens even when the audit record cannot be written (default false)."
        ),
        "LIVETOKENS_STATE": (
            "memory (default, per process) or redis://[USER@]HOST:PORT/DB, rediss://... (TLS): "
            "where idempotency entries and rate buckets live (docs/state.md)."
        ),
        "LIVETOKENS_STATE_PASSWORD / _FILE": "Password of the Redis ACL user.",
        "LIVETOKENS_STATE_FAILURE_MODE": (
            "closed (default: STATE_UNAVAILABLE while Redis is down) or local (per-process "
            "deduplication and limits while it is down)."
        ),
        "LIVETOKENS_STATE_LEASE": "Seconds a mint's claim outlives a dead replica (default 5).",
        "LIVETOKENS_STATE_TIMEOUT": "Cap in seconds on one Redis call (default 1).",
        "LIVETOKENS_IDEMPOTENCY_MAX_BYTES": (
            "Byte bound of in-memory idempotency entries (default 67108864 = 64 MiB)."
        ),
        "LIVETOKENS_WORKERS": "Server processes sharing the port (default 1).",
        "LIVETOKENS_ACCEPT_PER_WORKER_STATE": (
            "true: allow workers > 1 with the memory backend (state per worker)."
        ),
        "LIVETOKENS_AUDIT_KEY / _FILE": (
            "HMAC key chaining audit records (default: derived from the fingerprint key, "
            "else random per process)."
        ),
    }
