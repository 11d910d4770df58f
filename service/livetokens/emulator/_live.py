"""The Live API WebSocket, ``…GenerativeService.BidiGenerateContentConstrained`` (spec §3, §6).

An app connects with an ephemeral token (``?access_token=`` or ``Authorization: Token``),
sends its ``setup`` message, and gets the setup the token allows: the token's
``bidiGenerateContentSetup`` and ``fieldMask`` merged with the app's setup by the
documented rules (:func:`merge_setup`). The session then answers each text turn with
an echo of that text, so a client sees a working model turn without a model.

Google's close codes are used where the spec records them (1007 for a missing or bad
token, 1008 for a token on the plain ``BidiGenerateContent`` method). Every other
refusal — expired, used up, past the new-session window — is unspecified by Google;
the emulator's choice is marked [U] here and listed in docs/fidelity.md.

What the merge produced is visible only on the emulator's own inspection route,
``GET /_emulator/live/sessions``, never on a Google-shaped route. Token names are
never logged or shown there (only their fingerprint).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import WSCloseCode, WSMsgType, web

from livetokens.emulator import _errors as errors
from livetokens.emulator import _schema as schema

if TYPE_CHECKING:
    from livetokens.emulator._server import StoredToken

log = logging.getLogger("livetokens.emulator.live")

LIVE_PATH = re.compile(
    # Both SDKs produce `//ws/…` (spec §6); the emulator accepts any number of slashes.
    r"/+ws/google\.ai\.generativelanguage\.(?P<version>v1alpha|v1beta)"
    r"\.GenerativeService\.(?P<method>BidiGenerateContentConstrained|BidiGenerateContent)"
)
CONSTRAINED = "BidiGenerateContentConstrained"
INSPECT_PATH = "/_emulator/live/sessions"

# Close codes. 1007 and 1008 for the cases in spec §6 are observed [3P]; the others
# are the emulator's choice [U].
CLOSE_INVALID = 1007  # RFC 6455 "invalid frame payload data"; Google's for a bad token
CLOSE_POLICY = 1008  # RFC 6455 "policy violation"
CLOSE_GOING_AWAY = int(WSCloseCode.GOING_AWAY)  # the emulator is stopping

# [3P] (spec §6): "Missing or malformed auth token … pass it in an `access_token` query
# parameter"; the words between are the emulator's. [U]
MISSING_TOKEN = (
    "Missing or malformed auth token. Please pass it in an access_token query parameter."  # noqa: S105 - a message
)
TOKEN_EXPIRED = "Auth token has expired."  # noqa: S105 - a message [U]
NEW_SESSIONS_CLOSED = "Auth token can no longer start new sessions."  # [U]
USES_EXHAUSTED = "Auth token has no uses left."  # [U]
BAD_RESUMPTION_HANDLE = "Invalid session resumption handle."  # [U]
SETUP_REQUIRED = "The first message must be a setup message."  # [U]
PLAIN_METHOD = errors.UNREGISTERED_CALLER_MESSAGE  # [3P] (spec §6), on the plain method
# RFC 6455 limits a close reason to 123 bytes; longer Google texts are cut there. [U]
_MAX_REASON = 123
# How long the emulator waits for the first (setup) message. [U]
SETUP_TIMEOUT = 30.0

JSON = dict[str, Any]


@dataclass
class LiveSession:
    """One WebSocket connection as the emulator saw it; never holds the token name.

    ``state``: ``"open"``, ``"closed"`` (after a session) or ``"refused"`` (closed
    before ``setupComplete``). ``effective_setup``: the setup after the merge, in
    canonical camelCase at the top level and inside ``generationConfig``.
    """

    id: str
    api_version: str
    method: str
    opened_at: datetime
    token_fingerprint: str | None = None
    app_setup: JSON | None = None
    effective_setup: JSON | None = None
    resumed: bool = False
    state: str = "open"
    close_code: int | None = None
    close_reason: str | None = None
    turns: int = 0

    def to_json(self) -> JSON:
        """The inspection route's view of the session."""
        return {
            "id": self.id,
            "apiVersion": self.api_version,
            "method": self.method,
            "openedAt": self.opened_at.isoformat(),
            "tokenFingerprint": self.token_fingerprint,
            "appSetup": self.app_setup,
            "effectiveSetup": self.effective_setup,
            "resumed": self.resumed,
            "state": self.state,
            "closeCode": self.close_code,
            "closeReason": self.close_reason,
            "turns": self.turns,
        }


class _Refused(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _truncate(reason: str) -> str:
    encoded = reason.encode()
    if len(encoded) <= _MAX_REASON:
        return reason
    return encoded[:_MAX_REASON].decode(errors="ignore")


def token_from(request: web.BaseRequest) -> str | None:
    """The token: ``?access_token=``, else ``Authorization: Token <name>`` (spec §6).

    When both are present the query parameter wins. [U]
    """
    token = request.query.get("access_token", "").strip()
    if token:
        return token
    scheme, _, value = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() == "token" and value.strip():
        return value.strip()
    return None


# --- The merge (spec §3.1) ---------------------------------------------------------------


def canonical_setup(setup: Mapping[str, Any]) -> JSON:
    """The app's setup with camelCase names at the top and in ``generationConfig``.

    Raises ValueError naming the first unknown field (the session is then closed).
    """
    out: JSON = {}
    for key, value in setup.items():
        known = schema.SETUP.lookup.get(key)
        if known is None:
            raise ValueError(f"Unknown name {json.dumps(key)} at 'setup': Cannot find field.")
        if value is None:
            continue
        if known.json_name == "generationConfig" and isinstance(value, dict):
            gen: JSON = {}
            for sub, sub_value in value.items():
                sub_known = schema.GENERATION_CONFIG.lookup.get(sub)
                if sub_known is None:
                    raise ValueError(
                        f"Unknown name {json.dumps(sub)} at 'setup.generation_config': "
                        "Cannot find field."
                    )
                if sub_value is not None:
                    gen[sub_known.json_name] = sub_value
            value = gen
        out[known.json_name] = value
    return out


def merge_setup(app: JSON, token_setup: JSON | None, field_mask: list[str]) -> JSON:
    """The effective setup of a session (spec §3.1; all names canonical).

    1. No mask, no token setup: the app's setup (an unconstrained token).
    2. No mask, a token setup: the token's setup; the app's is ignored (full lock).
    3. A mask: each masked path takes the token's value, or is removed (its default)
       when the token does not set it; every other field is the app's.
    """
    if not field_mask:
        return copy.deepcopy(token_setup if token_setup is not None else app)
    merged = copy.deepcopy(app)
    locked = token_setup or {}
    for path in field_mask:
        head, _, sub = path.partition(".")
        if not sub:
            if head in locked:
                merged[head] = copy.deepcopy(locked[head])
            else:
                merged.pop(head, None)
            continue
        source = locked.get(head)
        source = source if isinstance(source, dict) else {}
        target = merged.get(head)
        if not isinstance(target, dict):
            target = {}
        if sub in source:
            target[sub] = copy.deepcopy(source[sub])
        else:
            target.pop(sub, None)
        if target or head in merged:
            merged[head] = target
    return merged


# --- The service ---------------------------------------------------------------------------


@dataclass
class _Token:
    """What a session needs from a stored token, plus the uses spent so far."""

    stored: StoredToken
    name: str


@dataclass
class LiveService:
    """The WebSocket endpoint and its inspection route; one per :class:`Emulator`.

    ``tokens``: the emulator's minted tokens (read only). ``clock``: the emulator's
    "now", used for expiry and the new-session window. ``check_interval``: how often
    (seconds) an open session compares the clock with its token's expiry.
    ``history_limit``: keep at most this many session records, resumption handles and
    use counters (oldest dropped; a dropped handle no longer resumes); None: all.
    """

    tokens: Mapping[str, StoredToken]
    clock: Callable[[], datetime]
    fingerprint: Callable[[str], str]
    check_interval: float = 0.05
    history_limit: int | None = None
    sessions: list[LiveSession] = field(default_factory=list)
    uses_spent: dict[str, int] = field(default_factory=dict)
    _handles: dict[str, str] = field(default_factory=dict)
    _open: dict[str, web.WebSocketResponse] = field(default_factory=dict)

    async def handle(self, request: web.Request, version: str, method: str) -> web.StreamResponse:
        """Serve one WebSocket connection from upgrade to close."""
        ws = web.WebSocketResponse(autoping=True)
        if not ws.can_prepare(request).ok:
            # A plain HTTP request on the WebSocket path. [U]
            body = errors.GoogleError(400, "This method expects a WebSocket connection.")
            return web.Response(status=400, body=body.encode(), content_type="application/json")
        await ws.prepare(request)
        session = LiveSession(
            id=secrets.token_hex(8), api_version=version, method=method, opened_at=self.clock()
        )
        self.sessions.append(session)
        self._trim()
        self._open[session.id] = ws
        try:
            await self._run(ws, request, session)
        finally:
            self._open.pop(session.id, None)
            if not ws.closed:
                await ws.close()
            if session.state == "open":
                session.state = "closed"
                session.close_code = ws.close_code
            log.info(
                "live session %s %s token=%s -> %s %s",
                session.id,
                session.state,
                session.token_fingerprint or "-",
                session.close_code,
                session.close_reason or "",
            )
        return ws

    def _trim(self) -> None:
        limit = self.history_limit
        if limit is None:
            return
        del self.sessions[: max(0, len(self.sessions) - limit)]
        for table in (self._handles, self.uses_spent):
            while len(table) > limit:
                del table[next(iter(table))]

    async def inspect(self, request: web.Request) -> web.Response:
        """``GET /_emulator/live/sessions``: every session, optionally only one token's
        (``?token_fingerprint=``); never a token name."""
        wanted = request.query.get("token_fingerprint")
        sessions = [s.to_json() for s in self.sessions if wanted in (None, s.token_fingerprint)]
        return web.json_response({"sessions": sessions})

    async def close_all(self) -> None:
        """Close every open session (the emulator is stopping)."""
        for ws in list(self._open.values()):
            with contextlib.suppress(Exception):
                await ws.close(code=CLOSE_GOING_AWAY, message=b"The emulator is stopping.")

    async def _run(self, ws: web.WebSocketResponse, request: web.Request, s: LiveSession) -> None:
        name = token_from(request)
        s.token_fingerprint = self.fingerprint(name) if name else None
        try:
            first = await self._first_message(ws)
            if first is None:
                s.state = "refused"
                s.close_code = ws.close_code
                return
            token = self._authorize(s, name, request)
            app = self._app_setup(first)
            s.app_setup = app
            effective = merge_setup(app, token.stored.setup, token.stored.field_mask)
            self._admit(s, token, effective)
            s.effective_setup = effective
        except _Refused as refused:
            s.state = "refused"
            await self._close(ws, s, refused.code, refused.reason)
            return
        await ws.send_json({"setupComplete": {}})
        if "sessionResumption" in effective:
            await self._send_resumption_handle(ws, token.name)
        await self._converse(ws, s, token)

    async def _first_message(self, ws: web.WebSocketResponse) -> Any:
        try:
            msg = await asyncio.wait_for(ws.receive(), timeout=SETUP_TIMEOUT)
        except TimeoutError:
            await ws.close(code=CLOSE_POLICY, message=SETUP_REQUIRED.encode())
            return None
        if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
            try:
                return json.loads(msg.data)
            except (UnicodeDecodeError, ValueError):
                return {}
        return None  # the client closed first

    def _authorize(self, s: LiveSession, name: str | None, request: web.Request) -> _Token:
        if s.method != CONSTRAINED:
            # The emulator serves no API-key sessions on the plain method. [U] for the key case.
            raise _Refused(CLOSE_POLICY, PLAIN_METHOD)
        if name is None and request.query.get("key"):
            # A token passed as ?key= (spec §6, [3P]).
            raise _Refused(CLOSE_INVALID, errors.API_KEY_INVALID_MESSAGE)
        stored = self.tokens.get(name) if name else None
        if name is None or stored is None:
            raise _Refused(CLOSE_INVALID, MISSING_TOKEN)
        if stored.api_version != s.api_version:
            # A token works only on the version it was minted on (the proto says so). [U]
            raise _Refused(CLOSE_INVALID, MISSING_TOKEN)
        if self.clock() >= stored.expire_time:
            raise _Refused(CLOSE_POLICY, TOKEN_EXPIRED)
        return _Token(stored, name)

    def _app_setup(self, first: Any) -> JSON:
        setup = first.get("setup") if isinstance(first, dict) else None
        if not isinstance(setup, dict):
            raise _Refused(CLOSE_INVALID, SETUP_REQUIRED)
        try:
            return canonical_setup(setup)
        except ValueError as exc:
            raise _Refused(CLOSE_INVALID, f"{errors.INVALID_JSON} {exc}") from None

    def _admit(self, s: LiveSession, token: _Token, effective: JSON) -> None:
        """Spend a use, unless this is a resumption (spec §2: a resume is not a use)."""
        resumption = effective.get("sessionResumption")
        handle = resumption.get("handle") if isinstance(resumption, dict) else None
        if handle:
            if self._handles.get(handle) != token.name:
                raise _Refused(CLOSE_INVALID, BAD_RESUMPTION_HANDLE)
            # A resume is allowed after newSessionExpireTime, within expireTime. [U]
            s.resumed = True
            return
        if self.clock() >= token.stored.new_session_expire_time:
            raise _Refused(CLOSE_POLICY, NEW_SESSIONS_CLOSED)
        spent = self.uses_spent.get(token.name, 0)
        if token.stored.uses != 0 and spent >= token.stored.uses:
            raise _Refused(CLOSE_POLICY, USES_EXHAUSTED)
        self.uses_spent[token.name] = spent + 1

    async def _send_resumption_handle(self, ws: web.WebSocketResponse, name: str) -> None:
        handle = "emulator-resume-" + secrets.token_hex(12)
        self._handles[handle] = name
        self._trim()
        await ws.send_json({"sessionResumptionUpdate": {"newHandle": handle, "resumable": True}})

    async def _converse(self, ws: web.WebSocketResponse, s: LiveSession, token: _Token) -> None:
        watcher = asyncio.create_task(self._expire_when_due(ws, s, token))
        try:
            async for msg in ws:
                if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    continue
                if self.clock() >= token.stored.expire_time:
                    # Messages after expireTime are rejected (spec §6).
                    await self._close(ws, s, CLOSE_POLICY, TOKEN_EXPIRED)
                    return
                try:
                    message = json.loads(msg.data)
                except (UnicodeDecodeError, ValueError):
                    message = None
                if not isinstance(message, dict):
                    await self._close(ws, s, CLOSE_INVALID, errors.INVALID_JSON)
                    return
                text = _text_of(message)
                if text is None:
                    continue  # audio, video, tool responses: accepted, not answered
                s.turns += 1
                await ws.send_json(
                    {"serverContent": {"modelTurn": {"role": "model", "parts": [{"text": text}]}}}
                )
                await ws.send_json({"serverContent": {"turnComplete": True}})
                if "sessionResumption" in (s.effective_setup or {}):
                    await self._send_resumption_handle(ws, token.name)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    async def _expire_when_due(
        self, ws: web.WebSocketResponse, s: LiveSession, token: _Token
    ) -> None:
        """Close the session once the clock passes the token's expireTime (spec §6:
        Gemini may close the session; the emulator always does, with 1008). [U]"""
        while not ws.closed:
            remaining = (token.stored.expire_time - self.clock()).total_seconds()
            if remaining <= 0:
                await self._close(ws, s, CLOSE_POLICY, TOKEN_EXPIRED)
                return
            await asyncio.sleep(min(remaining, self.check_interval))

    async def _close(
        self, ws: web.WebSocketResponse, s: LiveSession, code: int, reason: str
    ) -> None:
        reason = _truncate(reason)
        if s.state == "open":
            s.state = "closed"
        s.close_code, s.close_reason = code, reason
        if not ws.closed:
            await ws.close(code=code, message=reason.encode())


def _text_of(message: JSON) -> str | None:
    """The text a client turn carries: ``clientContent`` turns that complete a turn,
    or ``realtimeInput.text``; either spelling (the Python SDK sends snake_case)."""
    content = _either(message, "clientContent", "client_content")
    if isinstance(content, dict):
        if not _either(content, "turnComplete", "turn_complete"):
            return None
        texts = [
            part["text"]
            for turn in content.get("turns") or []
            if isinstance(turn, dict)
            for part in turn.get("parts") or []
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        ]
        return "".join(texts) if texts else None
    realtime = _either(message, "realtimeInput", "realtime_input")
    if isinstance(realtime, dict) and isinstance(realtime.get("text"), str):
        return str(realtime["text"])
    return None


def _either(obj: JSON, camel: str, snake: str) -> Any:
    return obj.get(camel, obj.get(snake))
