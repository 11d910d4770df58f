"""The emulator's HTTP server: Google's ``auth_tokens`` endpoint on loopback (spec §1, §5, §10)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import secrets
import socket
import ssl
import struct
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType, TracebackType
from typing import Any

from aiohttp import web

from livetokens.emulator import _errors as errors
from livetokens.emulator._errors import GoogleError
from livetokens.emulator._faults import Fault, FaultKind, FaultQueue, duration_json
from livetokens.emulator._live import INSPECT_PATH, LIVE_PATH, LiveService, LiveSession
from livetokens.emulator._validate import decode_body, validate

log = logging.getLogger("livetokens.emulator")

API_VERSIONS = ("v1alpha", "v1beta")
TOKEN_PREFIX = "auth_tokens/"  # noqa: S105 - a name prefix, not a secret
REDACTED = "<redacted>"
_ROUTE = re.compile(r"/(?P<version>v1alpha|v1beta)/auth_tokens")
# Header and query names whose values are credentials; captured as "<redacted>".
_SECRET_HEADERS = frozenset({"x-goog-api-key", "authorization"})
_SECRET_QUERY = frozenset({"key", "access_token"})
_JSON = "application/json"
# Google's request size limit for generativelanguage (20 MiB).
MAX_BODY = 20 * 1024 * 1024


def fingerprint(api_key: str) -> str:
    """A short, stable, non-reversible label for an API key, safe to log and compare."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _strip_models(model: str) -> str:
    return model.removeprefix("models/")


@dataclass(frozen=True, kw_only=True)
class EmulatorConfig:
    """How the emulator behaves; one frozen object, built once.

    ``api_keys``: the keys it accepts. A request without a key gets Google's 403, one
    with another key Google's 400 API_KEY_INVALID (spec §7).
    ``accept_live_connect_constraints``: whether the ``liveConnectConstraints`` field
    of the 2026-07 docs is accepted; rejected as an unknown name by default (spec §2).
    ``latency``: seconds added to every answer. ``model_latency``: extra seconds when
    ``bidiGenerateContentSetup.model`` is the key (with or without ``models/``).
    ``seed``: seeds the error-rate draws. ``clock``: "now" for defaults, the 20-hour
    limit, and the Live sessions' new-session window and expiry. ``history_limit``:
    keep at most this many captured requests, stored tokens and Live session records
    (oldest dropped); None keeps everything. ``expiry_check_interval``: how often
    (seconds) an open Live session compares ``clock`` with its token's expiry, so a
    test that moves an injected clock sees the session closed soon after.
    """

    api_keys: frozenset[str] = frozenset()
    accept_live_connect_constraints: bool = False
    latency: float = 0.0
    model_latency: Mapping[str, float] = field(default_factory=dict)
    seed: int | None = None
    clock: Callable[[], datetime] = _utc_now
    history_limit: int | None = None
    expiry_check_interval: float = 0.05

    def __post_init__(self) -> None:
        keys: Iterable[str] = self.api_keys
        if isinstance(keys, str):
            raise TypeError("api_keys must be a collection of keys, not one string")
        object.__setattr__(self, "api_keys", frozenset(keys))
        if self.latency < 0:
            raise ValueError(f"latency must not be negative, got {self.latency}")
        normalized = {_strip_models(m): float(s) for m, s in self.model_latency.items()}
        if any(s < 0 for s in normalized.values()):
            raise ValueError("model latencies must not be negative")
        object.__setattr__(self, "model_latency", MappingProxyType(normalized))
        if self.history_limit is not None and self.history_limit < 1:
            raise ValueError("history_limit must be at least 1 (or None)")
        if self.expiry_check_interval <= 0:
            raise ValueError("expiry_check_interval must be positive")


@dataclass(frozen=True)
class StoredToken:
    """A token the emulator minted: what a fake Live endpoint would need (spec §10).

    Names are canonical camelCase: ``setup`` at its top level and inside
    ``generationConfig`` (deeper objects as sent), ``field_mask`` as de-duplicated
    paths such as ``"generationConfig.temperature"``. Times are aware UTC datetimes.
    """

    uses: int
    expire_time: datetime
    new_session_expire_time: datetime
    setup: dict[str, Any] | None
    field_mask: list[str]
    api_version: str
    create_time: datetime
    api_key_fingerprint: str
    live_connect_constraints: dict[str, Any] | None = None


@dataclass(frozen=True)
class CapturedRequest:
    """One request as the emulator received it, with every credential redacted.

    ``headers`` has lower-case names; the ``x-goog-api-key`` and ``authorization``
    values, like the ``key`` and ``access_token`` query values, read ``"<redacted>"``.
    ``body_json`` is the decoded body, or None when it was empty or not JSON.
    ``status`` is the HTTP status answered (None when the connection was reset),
    ``fault`` the injected fault's kind or ``"error_rate"``, and ``added_latency_s``
    every second of delay the emulator added before answering.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body_json: Any
    api_key_fingerprint: str | None
    api_version: str | None = None
    status: int | None = None
    fault: str | None = None
    added_latency_s: float = 0.0
    received_at: datetime | None = None


@dataclass
class _Outcome:
    status: int | None  # None: reset the connection
    body: bytes = b""
    content_type: str = _JSON
    fault: str | None = None
    extra_delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


def _error(exc: GoogleError) -> _Outcome:
    return _Outcome(exc.code, exc.encode())


class Emulator:
    """Google's ``auth_tokens`` endpoint on a real socket, for tests, demos and fault drills.

    Use it as ``async with Emulator(config) as emu:``; ``emu.base_url`` is the URL to
    give an HTTP client or SDK (no version, no trailing slash). Minted tokens are
    recorded in ``emu.tokens``, every request in ``emu.requests``, and
    ``emu.faults`` scripts failures. Tokens it mints are not valid at Google.

    The same port serves the Live WebSocket that accepts those tokens (``_live``), and
    ``emu.live_sessions`` records each connection. With ``ssl_context`` the emulator
    speaks TLS only (``https``/``wss``), as google-genai's Live client requires.
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        shutdown_timeout: float = 2.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.config = config or EmulatorConfig()
        self.faults = FaultQueue(self.config.seed)
        self.tokens: dict[str, StoredToken] = {}
        self.requests: list[CapturedRequest] = []
        self.live = LiveService(
            tokens=self.tokens,
            clock=self.config.clock,
            fingerprint=fingerprint,
            check_interval=self.config.expiry_check_interval,
            history_limit=self.config.history_limit,
        )
        self._ssl_context = ssl_context
        self._host = host
        self._requested_port = port
        self._shutdown_timeout = shutdown_timeout
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._closing = asyncio.Event()

    # Lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Bind and start serving; afterwards ``port`` and ``base_url`` are known."""
        if self._runner is not None:
            raise RuntimeError("the emulator is already running")
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # access_log=None: aiohttp's access log prints the query string, which may
        # hold ?key=. The emulator logs its own redacted line per request instead.
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=self._shutdown_timeout)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._requested_port, ssl_context=self._ssl_context)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._closing.clear()
        self._runner = runner
        addresses = runner.addresses
        self._port = int(addresses[0][1])

    async def stop(self) -> None:
        """Stop serving; answers still being delayed are sent at once."""
        runner, self._runner = self._runner, None
        if runner is not None:
            self._closing.set()
            await self.live.close_all()
            await runner.cleanup()

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """The TCP port it listens on (the real one when started with port 0)."""
        if self._port is None:
            raise RuntimeError("the emulator is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://host:port`` (``https`` with TLS), no API version, no trailing slash."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        scheme = "https" if self._ssl_context is not None else "http"
        return f"{scheme}://{host}:{self.port}"

    @property
    def live_sessions(self) -> list[LiveSession]:
        """Every Live WebSocket connection so far, oldest first (never a token name)."""
        return self.live.sessions

    def websocket_url(self, api_version: str = "v1alpha") -> str:
        """The ``BidiGenerateContentConstrained`` URL on this emulator (``wss`` with TLS)."""
        scheme = "wss" if self._ssl_context is not None else "ws"
        rest = self.base_url.partition("://")[2]
        return (
            f"{scheme}://{rest}/ws/google.ai.generativelanguage.{api_version}."
            "GenerativeService.BidiGenerateContentConstrained"
        )

    # Request handling ------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        live = LIVE_PATH.fullmatch(request.path)
        if live is not None:
            self._record_upgrade(request, live["version"])
            return await self.live.handle(request, live["version"], live["method"])
        if request.path == INSPECT_PATH and request.method == "GET":
            # The emulator's own route (not Google's): what each Live session got.
            return await self.live.inspect(request)
        loop = asyncio.get_running_loop()
        started = loop.time()
        received_at = self.config.clock()
        too_large = False
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raw, too_large = b"", True
        api_key = _api_key(request)
        key_fp = fingerprint(api_key) if api_key else None
        body_json = _try_json(raw)
        match = _ROUTE.fullmatch(request.path)
        version = match["version"] if match else None

        if too_large:
            # Google's wording for an oversized body; its status code here is [U].
            outcome = _error(
                GoogleError(400, f"Request payload size exceeds the limit: {MAX_BODY} bytes.")
            )
        else:
            try:
                outcome = self._decide(request.method, version, api_key, key_fp, raw, received_at)
            except Exception:
                # A bug in the emulator still answers in Google's shape, and says so in the log.
                log.exception("emulator failed on %s %s", request.method, request.path)
                outcome = _error(GoogleError(500))
        delay = self.config.latency + outcome.extra_delay + self._model_latency(body_json)
        self._record(
            _captured(
                request,
                body_json=body_json,
                api_key_fingerprint=key_fp,
                api_version=version,
                status=outcome.status,
                fault=outcome.fault,
                added_latency_s=delay,
                received_at=received_at,
            )
        )
        if delay > 0:
            # Sleep, but wake early when the emulator is stopping.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), timeout=delay)
        elapsed_ms = (loop.time() - started) * 1000
        # One line per request; never the key or a token name (only the key's fingerprint).
        log.info(
            "%s %s -> %s %.1fms key=%s%s",
            request.method,
            request.path,
            outcome.status if outcome.status is not None else "RESET",
            elapsed_ms,
            key_fp or "-",
            f" fault={outcome.fault}" if outcome.fault else "",
        )
        if outcome.status is None:
            _reset(request)
            return web.Response()
        headers = {"Content-Type": outcome.content_type, **outcome.headers}
        return web.Response(status=outcome.status, body=outcome.body, headers=headers)

    def _decide(
        self,
        method: str,
        version: str | None,
        api_key: str | None,
        key_fp: str | None,
        raw: bytes,
        now: datetime,
    ) -> _Outcome:
        if version is None:
            # v1/auth_tokens and the authTokens spelling are 404 (spec §1, §10); the
            # message is the generic one for an unknown method. [U]
            return _error(GoogleError(404, "Method not found."))
        if method != "POST":
            # Google most likely answers 404 here too [U]; 405 tells a wrong method
            # apart from a wrong path.
            outcome = _error(
                GoogleError(
                    405, f"Method {method} is not allowed; use POST.", status="UNIMPLEMENTED"
                )
            )
            outcome.headers["Allow"] = "POST"
            return outcome
        extra_delay = 0.0
        taken = self.faults.take(version)
        if taken is not None:
            fault, label = taken
            if fault.kind is FaultKind.LATENCY:
                extra_delay = fault.delay_s
            else:
                outcome = _fault_outcome(fault)
                outcome.fault = label
                return outcome
        outcome = self._create(version, api_key, key_fp, raw, now)
        outcome.extra_delay = extra_delay
        if taken is not None:
            outcome.fault = taken[1]
        return outcome

    def _create(
        self, version: str, api_key: str | None, key_fp: str | None, raw: bytes, now: datetime
    ) -> _Outcome:
        # The key is checked before the body is read. [U]
        if api_key is None or key_fp is None:
            return _error(errors.api_key_missing())
        if api_key not in self.config.api_keys:
            return _error(errors.api_key_invalid())
        try:
            body = decode_body(raw)
            parsed = validate(
                body,
                now=now,
                api_version=version,
                accept_live_connect_constraints=self.config.accept_live_connect_constraints,
            )
        except GoogleError as exc:
            return _error(exc)
        name = TOKEN_PREFIX + secrets.token_hex(16)
        self.tokens[name] = StoredToken(
            uses=parsed.uses,
            expire_time=parsed.expire_time,
            new_session_expire_time=parsed.new_session_expire_time,
            setup=parsed.setup,
            field_mask=parsed.field_mask,
            api_version=version,
            create_time=now,
            api_key_fingerprint=key_fp,
            live_connect_constraints=parsed.live_connect_constraints,
        )
        limit = self.config.history_limit
        if limit is not None and len(self.tokens) > limit:
            del self.tokens[next(iter(self.tokens))]
        # Only `name` comes back (spec §5).
        return _Outcome(200, b'{\n  "name": "' + name.encode() + b'"\n}\n')

    def _model_latency(self, body: Any) -> float:
        if not self.config.model_latency or not isinstance(body, dict):
            return 0.0
        model: Any = None
        for key in ("bidiGenerateContentSetup", "bidi_generate_content_setup"):
            setup = body.get(key)
            if isinstance(setup, dict):
                model = setup.get("model")
        if model is None and self.config.accept_live_connect_constraints:
            for key in ("liveConnectConstraints", "live_connect_constraints"):
                lcc = body.get(key)
                if isinstance(lcc, dict):
                    model = lcc.get("model")
        if not isinstance(model, str):
            return 0.0
        return self.config.model_latency.get(_strip_models(model), 0.0)

    def _record_upgrade(self, request: web.Request, version: str) -> None:
        self._record(
            _captured(
                request,
                body_json=None,
                api_key_fingerprint=None,
                api_version=version,
                status=101,
                received_at=self.config.clock(),
            )
        )

    def _record(self, captured: CapturedRequest) -> None:
        self.requests.append(captured)
        limit = self.config.history_limit
        if limit is not None and len(self.requests) > limit:
            del self.requests[: len(self.requests) - limit]


def _fault_outcome(fault: Fault) -> _Outcome:
    if fault.kind is FaultKind.STATUS:
        return _error(GoogleError(fault.http_status, fault.message))
    if fault.kind is FaultKind.RATE_LIMITED:
        return _error(errors.rate_limited(duration_json(fault.retry_delay_s)))
    if fault.kind is FaultKind.MALFORMED:
        return _Outcome(fault.http_status, fault.body, content_type=fault.content_type)
    if fault.kind is FaultKind.RESET:
        return _Outcome(None)
    raise AssertionError(f"unhandled fault kind {fault.kind}")  # pragma: no cover


def _api_key(request: web.Request) -> str | None:
    """``x-goog-api-key``, else ``?key=`` (spec §1); an empty value counts as no key. [U]"""
    key = request.headers.get("x-goog-api-key") or request.query.get("key") or ""
    return key or None


def _try_json(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return decode_body(raw)
    except GoogleError:
        return None


def _redacted(values: dict[str, str], secret_names: frozenset[str]) -> dict[str, str]:
    return {k: (REDACTED if k.lower() in secret_names else v) for k, v in values.items()}


def _captured(request: web.Request, **rest: Any) -> CapturedRequest:
    """A :class:`CapturedRequest` of ``request`` with its key-bearing query parameters
    and headers redacted; ``rest`` holds the other fields."""
    return CapturedRequest(
        method=request.method,
        path=request.path,
        query=_redacted(dict(request.query), _SECRET_QUERY),
        headers=_redacted({k.lower(): v for k, v in request.headers.items()}, _SECRET_HEADERS),
        **rest,
    )


def _reset(request: web.Request) -> None:
    """Drop the connection with a TCP RST, so the client sees a transport error, not an answer."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
