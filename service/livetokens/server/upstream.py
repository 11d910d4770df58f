"""The one class that owns httpx: `POST {base}/{version}/auth_tokens` with our API key.

It turns every answer into either a token name or a :class:`Failure` classified by
the error table, retries what is safe to retry inside the caller's deadline, and
never lets the API key or a token name out in a message.

Transport: httpx's own pool collapses under hundreds of concurrent requests on our
machines (README, "Why httpx-aiohttp"), so by default httpx runs over
``httpx_aiohttp.AiohttpTransport``; ``transport="httpx"`` selects the default one
for comparison (``make bench``).
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import random
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import aiohttp
import httpx
import httpx_aiohttp
from httpx_aiohttp.transport import map_aiohttp_exceptions

from livetokens.server.errors import (
    RETRYABLE_UPSTREAM_STATUSES,
    Failure,
    QuotaViolation,
    Reason,
    classify_upstream,
)
from livetokens.server.redaction import SUBJECT_LIKE, Redactor
from livetokens.server.settings import UpstreamSettings

log = logging.getLogger(__name__)

TOKEN_PREFIX = "auth_tokens/"  # noqa: S105 - a resource prefix, not a secret
# Time kept back from the caller's deadline so that livetokens can still answer with
# its own DEADLINE_EXCEEDED (and ErrorInfo) before the caller gives up.
DEADLINE_MARGIN = 0.1


def redact(text: str, *secrets: str) -> str:
    """``text`` with the given secrets (in every spelling), token names and
    API-key-shaped strings replaced (see :mod:`livetokens.server.redaction`)."""
    return Redactor(secrets).text(text)


class EagerAiohttpTransport(httpx_aiohttp.AiohttpTransport):  # type: ignore[misc]
    """httpx-aiohttp's transport, reading each answer whole inside aiohttp.

    Token answers are a few hundred bytes, so streaming them back through httpx's
    chunk iterators only costs CPU: ``response.read()`` here and an already-read
    ``httpx.Response`` (which still decodes any Content-Encoding) measured 6-10% less
    CPU per mint (docs/benchmarks.md). Errors map to httpx's exactly as in the parent.
    """

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` on aiohttp's pool; the answer comes back fully read."""
        session = self.client  # type: ignore[has-type]  # httpx_aiohttp is untyped
        if not isinstance(session, aiohttp.ClientSession):
            session = self.client = self.get_client()
        timeout = request.extensions.get("timeout", {})
        with map_aiohttp_exceptions():
            async with session.request(
                request.method,
                str(request.url),
                headers=request.headers,
                data=request.content,
                allow_redirects=False,
                auto_decompress=False,
                compress=False,
                timeout=aiohttp.ClientTimeout(
                    sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
                    connect=timeout.get("pool"),
                ),
            ) as response:
                content = await response.read()
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            content=content,
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )


# The metrics hook: (attempt number from 1, status class, seconds) after each HTTP attempt.
AttemptObserver = Callable[[int, str, float], None]


def connection_limits(settings: UpstreamSettings) -> httpx.Limits:
    """The pool limits for Google's endpoint."""
    return httpx.Limits(
        max_connections=settings.max_connections,
        max_keepalive_connections=settings.max_connections,
        keepalive_expiry=30.0,
    )


def default_transport(settings: UpstreamSettings) -> httpx.AsyncBaseTransport:
    """The transport ``settings.transport`` names, with the pool limits."""
    limits = connection_limits(settings)
    if settings.transport == "aiohttp":
        transport: httpx.AsyncBaseTransport = EagerAiohttpTransport(limits=limits)
        return transport
    return httpx.AsyncHTTPTransport(limits=limits)


class GeminiTokenClient:
    """Mints tokens at Google (or the emulator). One instance, one shared AsyncClient."""

    def __init__(
        self,
        settings: UpstreamSettings,
        api_key: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        observe: AttemptObserver | None = None,
    ) -> None:
        """``transport`` None: :func:`default_transport`; ``observe`` is called after
        every HTTP attempt (metrics)."""
        self._settings = settings
        self._api_key = api_key
        self._redactor = Redactor([api_key])
        self._observe = observe
        limits = connection_limits(settings)
        if transport is None:
            transport = default_transport(settings)
        self._client = httpx.AsyncClient(
            base_url=settings.base_url.rstrip("/"),
            transport=transport,
            limits=limits,
            timeout=httpx.Timeout(
                connect=settings.connect_timeout,
                read=settings.read_timeout,
                write=settings.read_timeout,
                pool=settings.connect_timeout,
            ),
            headers={"x-goog-api-key": api_key, "content-type": "application/json"},
            follow_redirects=False,
        )
        self._path = f"/{settings.api_version}/auth_tokens"
        # Built once, sent many times: the merged URL and headers (the client's defaults
        # and ours) and the transport httpx would pick for that URL (a proxy's, when the
        # environment names one). Calling the transport ourselves skips what
        # AsyncClient.post redoes per request for nothing here (URL merge and parsing,
        # auth, redirect and cookie handling): about a sixth of a mint's CPU (make profile).
        template = self._client.build_request("POST", self._path)
        self._url = template.url
        self._headers = template.headers.copy()
        del self._headers["content-length"]  # "0" for the empty template; set per request
        self._transport = self._client._transport_for_url(self._url)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    async def create_token(self, body: Mapping[str, Any], *, deadline: float | None) -> str:
        """Mint one token and return its name (``auth_tokens/…``).

        ``deadline`` is a ``time.monotonic()`` instant (the caller's deadline) or None.
        Connection failures and 500/502/503 answers are retried with capped
        exponential backoff and equal jitter while attempts and time remain. A retry
        after a connection that dropped mid-request may leave an orphan token at
        Google that nobody ever receives; that is harmless, unlike a lost answer.
        """
        attempts = self._settings.max_attempts
        content = json.dumps(body, separators=(",", ":")).encode()
        started = time.monotonic()
        # One time budget for everything below: every attempt's connect, send and whole
        # answer (a trickling answer restarts httpx's read timeout on every byte, so the
        # read timeout alone cannot bound it), and the backoff between attempts.
        end = started + self._settings.total_timeout
        caller_bound = deadline is not None and deadline - DEADLINE_MARGIN <= end
        if deadline is not None:
            end = min(end, deadline - DEADLINE_MARGIN)
        last: Failure | None = None
        for attempt in range(1, attempts + 1):
            remaining = end - time.monotonic()
            if remaining <= 0:
                raise self._out_of_time(caller_bound, started)
            attempt_started = time.monotonic()
            try:
                async with asyncio.timeout(remaining):
                    response = await self._post(content, self._timeout(remaining))
            except TimeoutError:
                self._observed(attempt, "timeout", attempt_started)
                raise self._out_of_time(caller_bound, started) from None
            except httpx.TimeoutException as exc:
                self._observed(attempt, "timeout", attempt_started)
                if isinstance(exc, httpx.ConnectTimeout) and time.monotonic() < end:
                    # httpx-aiohttp also reports refused and dropped connections as
                    # ConnectTimeout; _unreachable names what really happened.
                    last = self._unreachable(exc)
                else:
                    raise self._timed_out(deadline, started) from exc
            except httpx.TransportError as exc:
                self._observed(attempt, "error", attempt_started)
                last = self._unreachable(exc)
            else:
                self._observed(attempt, f"{response.status_code // 100}xx", attempt_started)
                if response.status_code == 200:
                    return self._token_name(response)
                failure = self._error_failure(response)
                if response.status_code not in RETRYABLE_UPSTREAM_STATUSES:
                    raise failure
                last = failure
            if attempt == attempts:
                break
            cap = min(
                self._settings.backoff_max, self._settings.backoff_initial * 2 ** (attempt - 1)
            )
            # "Equal jitter": at least half the capped backoff, so retries never bunch up
            # at zero, and the other half random so that callers spread out.
            delay = cap / 2 + random.uniform(0, cap / 2)  # noqa: S311 - jitter, not crypto
            if time.monotonic() + delay >= end:
                break
            log.info(
                "upstream attempt %d failed (%s); retrying in %.3fs",
                attempt,
                last.reason.value,
                delay,
            )
            await asyncio.sleep(delay)
        assert last is not None
        raise last

    def _observed(self, attempt: int, status_class: str, started: float) -> None:
        if self._observe is not None:
            self._observe(attempt, status_class, time.monotonic() - started)

    async def _post(self, content: bytes, timeouts: httpx.Timeout) -> httpx.Response:
        """POST ``content`` to the token endpoint; the whole answer is read."""
        request = httpx.Request(
            "POST",
            self._url,
            headers=self._headers,
            content=content,
            extensions={"timeout": timeouts.as_dict()},
        )
        response = await self._transport.handle_async_request(request)
        try:
            await response.aread()
        finally:
            await response.aclose()
        return response

    def _timeout(self, remaining: float) -> httpx.Timeout:
        # The time budget itself is asyncio.timeout's: httpx's timeouts get a second more,
        # so that they fire only when they are shorter than the budget, never racing it.
        read = min(self._settings.read_timeout, remaining + 1.0)
        connect = min(self._settings.connect_timeout, remaining + 1.0)
        return httpx.Timeout(connect=connect, read=read, write=read, pool=connect)

    def _out_of_time(self, caller_bound: bool, started: float) -> Failure:
        """The time budget of :meth:`create_token` ran out: the caller's deadline
        (DEADLINE_EXCEEDED) or livetokens' own cap (UPSTREAM_UNAVAILABLE)."""
        elapsed = time.monotonic() - started
        if caller_bound:
            log.warning(
                "upstream mint stopped after %.2fs: the caller's deadline ran out first", elapsed
            )
            return Failure(
                Reason.DEADLINE_EXCEEDED,
                "The caller's deadline ran out before Google answered the mint request.",
                metadata={"upstreamSeconds": f"{elapsed:.2f}"},
            )
        log.warning(
            "upstream mint stopped after %.2fs: over livetokens' upstream time budget (%gs)",
            elapsed,
            self._settings.total_timeout,
        )
        return Failure(
            Reason.UPSTREAM_UNAVAILABLE,
            f"Google did not answer within livetokens' upstream time budget "
            f"({self._settings.total_timeout:g}s).",
            metadata={"upstreamSeconds": f"{elapsed:.2f}"},
        )

    def _timed_out(self, deadline: float | None, started: float) -> Failure:
        """httpx's own connect or read timeout fired."""
        if _budget_expired(deadline):
            return self._out_of_time(True, started)
        log.warning(
            "upstream mint stopped after %.2fs: no answer within the read timeout (%gs)",
            time.monotonic() - started,
            self._settings.read_timeout,
        )
        return Failure(
            Reason.UPSTREAM_UNAVAILABLE,
            f"Google did not answer within livetokens' upstream timeout "
            f"({self._settings.read_timeout:g}s).",
        )

    def _unreachable(self, exc: Exception) -> Failure:
        what = connection_error(exc)
        log.warning("upstream transport error: %s (%s)", what, type(exc).__name__)
        return Failure(
            Reason.UPSTREAM_UNAVAILABLE,
            f"Could not reach Google's token endpoint ({what}).",
            metadata={"transportError": what},
        )

    def _token_name(self, response: httpx.Response) -> str:
        try:
            name = response.json().get("name")
        except (ValueError, AttributeError):
            name = None
        if (
            not isinstance(name, str)
            or not name.startswith(TOKEN_PREFIX)
            or len(name) <= len(TOKEN_PREFIX)
            or self._redactor.contains_key(name)
        ):
            raise Failure(
                Reason.UPSTREAM_UNAVAILABLE,
                "Google answered 200 without a token name of the documented form "
                "(auth_tokens/...).",
            )
        return name

    def _error_failure(self, response: httpx.Response) -> Failure:
        error = _google_error(response)
        scrub = self._redactor
        # Enum-like values are kept only in their strict form; free text is scrubbed of
        # the key in every spelling (docs/security.md, "Secrets").
        status = scrub.enum(error.get("status"))
        message = scrub.text(error.get("message"))
        raw_details = error.get("details")
        details: list[Any] = raw_details if isinstance(raw_details, list) else []
        reason_sent = ""
        retry_delay: timedelta | None = None
        quota: list[QuotaViolation] = []
        for detail in details:
            if not isinstance(detail, dict):
                continue
            kind = str(detail.get("@type", ""))
            if kind.endswith("google.rpc.ErrorInfo"):
                reason_sent = scrub.enum(detail.get("reason"))
            elif kind.endswith("google.rpc.RetryInfo"):
                retry_delay = _parse_duration(detail.get("retryDelay"))
            elif kind.endswith("google.rpc.QuotaFailure"):
                violations = detail.get("violations")
                for v in violations if isinstance(violations, list) else []:
                    if isinstance(v, dict):
                        quota.append(
                            QuotaViolation(
                                subject=scrub.enum(
                                    v.get("quotaId") or v.get("subject"), SUBJECT_LIKE
                                ),
                                description=scrub.text(
                                    v.get("description") or v.get("quotaMetric"), limit=200
                                ),
                            )
                        )
                        del quota[8:]
        reason = classify_upstream(response.status_code, status, reason_sent)
        metadata = {"httpStatus": str(response.status_code)}
        if status:
            metadata["upstreamStatus"] = status
        if reason_sent:
            metadata["upstreamReason"] = reason_sent
        text = _MESSAGES[reason].format(
            status=response.status_code, upstream=message or "(no message)"
        )
        return Failure(
            reason,
            text,
            metadata=metadata,
            retry_delay=retry_delay,
            quota_violations=quota,
        )


_MESSAGES: Mapping[Reason, str] = {
    Reason.UPSTREAM_REJECTED_REQUEST: (
        "Google rejected the token request (HTTP {status}): {upstream}"
    ),
    Reason.UPSTREAM_FAILED_PRECONDITION: (
        "Google cannot mint tokens for this project now (HTTP {status}): {upstream}"
    ),
    Reason.UPSTREAM_RATE_LIMITED: (
        "Google's quota for minting tokens is exhausted (HTTP {status}): {upstream}"
    ),
    Reason.UPSTREAM_UNAVAILABLE: "Google's token endpoint failed (HTTP {status}): {upstream}",
    Reason.DEADLINE_EXCEEDED: "Google's token endpoint timed out (HTTP {status}).",
    Reason.UPSTREAM_CREDENTIALS_REJECTED: (
        "Google refused livetokens' own API key (HTTP {status}). This is a server "
        "configuration problem for the operator, not a problem with your request."
    ),
    Reason.UPSTREAM_MISCONFIGURED: (
        "livetokens' upstream URL or API version looks wrong: Google answered HTTP {status}. "
        "This is a server configuration problem for the operator."
    ),
}


_ERRNO_NAMES = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset",
    errno.EPIPE: "connection reset",
    errno.ETIMEDOUT: "connect timeout",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
}


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def connection_error(exc: BaseException) -> str:
    """What a transport error really was, from its chain of causes: httpx-aiohttp maps
    every aiohttp connection error, a refused or reset connection included, to
    ``httpx.ConnectTimeout``."""
    for cause in _causes(exc):
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, ConnectionResetError | BrokenPipeError):
            return "connection reset"
        if isinstance(cause, socket.gaierror):
            return "DNS lookup failed"
        if isinstance(cause, ssl.SSLError):
            return "TLS handshake failed"
        if isinstance(cause, aiohttp.ServerDisconnectedError | httpx.RemoteProtocolError):
            return "server closed the connection"
        if isinstance(cause, OSError) and cause.errno is not None:
            return _ERRNO_NAMES.get(
                cause.errno, f"connection failed ({errno.errorcode.get(cause.errno, cause.errno)})"
            )
    for cause in _causes(exc):
        if isinstance(cause, TimeoutError | aiohttp.ConnectionTimeoutError):
            return "connect timeout"
        if isinstance(cause, httpx.ConnectTimeout) and cause.__cause__ is None:
            return "connect timeout"
    return type(exc).__name__


def _budget_expired(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() + DEADLINE_MARGIN >= deadline


def _google_error(response: httpx.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        return {}
    error = payload.get("error") if isinstance(payload, dict) else None
    return error if isinstance(error, dict) else {}


def _parse_duration(value: object) -> timedelta | None:
    """A google.protobuf.Duration in JSON form (``"25s"``, ``"0.5s"``)."""
    if not isinstance(value, str) or not value.endswith("s"):
        return None
    try:
        seconds = float(value[:-1])
    except ValueError:
        return None
    return timedelta(seconds=seconds) if seconds >= 0 else None
