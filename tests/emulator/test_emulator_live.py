"""The emulator's Live WebSocket: credentials, refusals, the merge, the inspection route.

A raw aiohttp WebSocket client over plaintext ``ws://`` (the SDK paths over TLS are in
tests/e2e). The emulator's clock is fixed at NOW, so windows are exact.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pathlib
import re
import ssl
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from emulator_helpers import KEY, Mint

from livetokens.emulator import (
    INSPECT_PATH,
    Emulator,
    EmulatorConfig,
    add_arguments,
    fingerprint,
    merge_setup,
    run_from_args,
)

SETUP = {"setup": {"model": "models/app-model", "generationConfig": {"temperature": 0.9}}}


@pytest.fixture
async def ws_session() -> AsyncIterator[aiohttp.ClientSession]:
    """An aiohttp client session for WebSocket connections."""
    async with aiohttp.ClientSession() as session:
        yield session


async def _token(mint: Mint, body: Any = None, version: str = "v1alpha") -> str:
    response = await mint(body or {}, version=version)
    assert response.status_code == 200, response.text
    name: str = response.json()["name"]
    return name


async def _session(
    http: aiohttp.ClientSession,
    url: str,
    first: Any = SETUP,
    *,
    headers: dict[str, str] | None = None,
) -> tuple[list[Any], int | None]:
    """Connect, send ``first``, say one text turn, and collect every message until close."""
    received: list[Any] = []
    async with http.ws_connect(url, headers=headers or {}) as ws:
        await ws.send_str(json.dumps(first) if not isinstance(first, str) else first)
        async for msg in ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                break
            received.append(json.loads(msg.data))
            if "setupComplete" in received[-1]:
                turn = {"turns": [{"role": "user", "parts": [{"text": "hi"}]}]}
                await ws.send_json({"clientContent": {**turn, "turnComplete": True}})
            if received[-1].get("serverContent", {}).get("turnComplete"):
                await ws.close()
        return received, ws.close_code


async def _close_of(http: aiohttp.ClientSession, url: str, first: Any = SETUP, **kw: Any) -> Any:
    async with http.ws_connect(url, **kw) as ws:
        await ws.send_str(json.dumps(first) if not isinstance(first, str) else first)
        msg = await ws.receive()
        assert msg.type is aiohttp.WSMsgType.CLOSE, msg
        return msg.data, msg.extra


async def test_access_token_query_parameter_starts_a_session(
    emulator: Emulator, mint: Mint, ws_session: aiohttp.ClientSession
) -> None:
    """?access_token= works and the session echoes a text turn after setupComplete."""
    token = await _token(mint)
    url = f"{emulator.websocket_url()}?access_token={token}"
    received, code = await _session(ws_session, url)
    assert received == [
        {"setupComplete": {}},
        {"serverContent": {"modelTurn": {"role": "model", "parts": [{"text": "hi"}]}}},
        {"serverContent": {"turnComplete": True}},
    ]
    assert code == 1000


async def test_authorization_token_header_and_double_slash_path(
    emulator: Emulator, mint: Mint, ws_session: aiohttp.ClientSession
) -> None:
    """``Authorization: Token`` works, on the SDKs' ``//ws/…`` spelling of the path too."""
    token = await _token(mint, version="v1beta")
    url = emulator.websocket_url("v1beta").replace("/ws/", "//ws/")
    received, _ = await _session(ws_session, url, headers={"Authorization": f"Token {token}"})
    assert received[0] == {"setupComplete": {}}


@pytest.mark.parametrize(
    ("how", "code", "reason"),
    [
        ("none", 1007, "Missing or malformed auth token."),
        ("unknown", 1007, "Missing or malformed auth token."),
        ("as_key", 1007, "API key not valid. Please pass a valid API key."),
        ("bearer", 1007, "Missing or malformed auth token."),
        ("other_version", 1007, "Missing or malformed auth token."),
        ("plain_method", 1008, "Method doesn't allow unregistered callers"),
    ],
)
async def test_bad_credentials_are_closed_with_googles_codes(
    how: str,
    code: int,
    reason: str,
    emulator: Emulator,
    mint: Mint,
    ws_session: aiohttp.ClientSession,
) -> None:
    """Each bad way of passing a token closes with the code and message spec §6 records."""
    token = await _token(mint)
    url, headers = emulator.websocket_url(), {}
    if how == "unknown":
        url += "?access_token=auth_tokens/unknown"
    elif how == "as_key":
        url += f"?key={token}"
    elif how == "bearer":
        headers = {"Authorization": f"Bearer {token}"}
    elif how == "other_version":
        url = emulator.websocket_url("v1beta") + f"?access_token={token}"
    elif how == "plain_method":
        url = url.replace("BidiGenerateContentConstrained", "BidiGenerateContent")
        url += f"?access_token={token}"
    got_code, got_reason = await _close_of(ws_session, url, headers=headers)
    assert got_code == code
    assert got_reason.startswith(reason)
    assert len(got_reason.encode()) <= 123


@pytest.mark.parametrize(
    ("first", "reason"),
    [
        ("not json", "The first message must be a setup message."),
        ({"clientContent": {}}, "The first message must be a setup message."),
        (
            {"setup": {"model": "m", "bogusField": 1}},
            "Invalid JSON payload received. Unknown name \"bogusField\" at 'setup'",
        ),
        (
            {"setup": {"generationConfig": {"bogus": 1}}},
            "Invalid JSON payload received. Unknown name \"bogus\" at 'setup.generation_config'",
        ),
    ],
)
async def test_a_bad_first_message_is_closed_with_1007(
    first: Any, reason: str, emulator: Emulator, mint: Mint, ws_session: aiohttp.ClientSession
) -> None:
    """The first frame must be a setup message with known field names. [U]"""
    token = await _token(mint)
    url = f"{emulator.websocket_url()}?access_token={token}"
    code, got = await _close_of(ws_session, url, first)
    assert code == 1007
    assert got.startswith(reason)


async def test_a_refused_connect_does_not_spend_a_use(
    emulator: Emulator, mint: Mint, ws_session: aiohttp.ClientSession
) -> None:
    """A session refused for its setup leaves the token's one use for the next one."""
    token = await _token(mint, {"uses": 1})
    url = f"{emulator.websocket_url()}?access_token={token}"
    await _close_of(ws_session, url, "not json")
    received, _ = await _session(ws_session, url)
    assert received[0] == {"setupComplete": {}}
    code, reason = await _close_of(ws_session, url)
    assert (code, reason) == (1008, "Auth token has no uses left.")


async def test_an_unknown_resumption_handle_is_refused(
    emulator: Emulator, mint: Mint, ws_session: aiohttp.ClientSession
) -> None:
    """A handle the emulator never issued (for this token) is closed with 1007. [U]"""
    token = await _token(mint)
    url = f"{emulator.websocket_url()}?access_token={token}"
    first = {"setup": {"model": "m", "sessionResumption": {"handle": "made-up"}}}
    assert await _close_of(ws_session, url, first) == (1007, "Invalid session resumption handle.")


async def test_inspection_route_shows_the_merge_but_never_the_token(
    emulator: Emulator, mint: Mint, ws_session: aiohttp.ClientSession
) -> None:
    """GET /_emulator/live/sessions shows app and effective setup, keyed by fingerprint only."""
    body = {
        "bidiGenerateContentSetup": {"model": "models/locked", "generationConfig": {"topK": 3}},
        "fieldMask": "model,generationConfig.topK,generation_config.temperature",
    }
    token = await _token(mint, body)
    url = f"{emulator.websocket_url()}?access_token={token}"
    await _session(ws_session, url)
    async with ws_session.get(emulator.base_url + INSPECT_PATH) as response:
        text = await response.text()
    assert token not in text
    assert token.removeprefix("auth_tokens/") not in text
    [seen] = json.loads(text)["sessions"]
    assert seen["tokenFingerprint"] == fingerprint(token)
    assert seen["appSetup"] == SETUP["setup"]
    # temperature is masked but not set by the token: it takes its default (unset).
    assert seen["effectiveSetup"] == {"model": "models/locked", "generationConfig": {"topK": 3}}
    assert (seen["state"], seen["turns"], seen["closeCode"]) == ("closed", 1, 1000)
    for request in emulator.requests:
        assert token not in json.dumps(request.query) + json.dumps(request.headers)


async def test_the_inspection_route_is_not_under_a_google_path(
    emulator: Emulator, mint: Mint, ws_session: aiohttp.ClientSession
) -> None:
    """Google-shaped paths answer Google's 404, not the session list."""
    for path in ("/v1alpha/_emulator/live/sessions", "/v1alpha/live/sessions"):
        async with ws_session.get(emulator.base_url + path) as response:
            assert response.status == 404
            assert "sessions" not in await response.text()


async def test_a_plain_http_request_on_the_websocket_path_is_400(
    emulator: Emulator, ws_session: aiohttp.ClientSession
) -> None:
    """Without an upgrade the Live path answers a Google-shaped 400. [U]"""
    url = emulator.websocket_url().replace("ws://", "http://")
    async with ws_session.get(url) as response:
        assert response.status == 400
        assert (await response.json())["error"]["status"] == "INVALID_ARGUMENT"


async def test_stopping_the_emulator_closes_open_sessions(
    emulator: Emulator, mint: Mint, ws_session: aiohttp.ClientSession
) -> None:
    """An open session is closed with 1001 when the emulator stops."""
    token = await _token(mint)
    url = f"{emulator.websocket_url()}?access_token={token}"
    async with ws_session.ws_connect(url) as ws:
        await ws.send_json(SETUP)
        assert (await ws.receive_json()) == {"setupComplete": {}}
        await emulator.stop()
        msg = await ws.receive()
        assert (msg.type, msg.data) == (aiohttp.WSMsgType.CLOSE, 1001)


@pytest.mark.parametrize(
    ("token_setup", "mask", "expected"),
    [
        # Rule 1: no mask, no setup → the app's setup.
        (None, [], {"model": "a", "generationConfig": {"temperature": 1, "topK": 5}, "tools": []}),
        # Rule 2: no mask, a setup → the token's setup only.
        ({"model": "t"}, [], {"model": "t"}),
        # Rule 3: masked paths from the token (or unset), the rest from the app.
        (
            {"model": "t", "generationConfig": {"temperature": 0.1}},
            ["model", "generationConfig.temperature", "generationConfig.seed", "tools"],
            {"model": "t", "generationConfig": {"temperature": 0.1, "topK": 5}},
        ),
        # A whole generationConfig path replaces the app's whole object.
        (
            {"generationConfig": {"seed": 7}},
            ["generationConfig"],
            {"model": "a", "generationConfig": {"seed": 7}, "tools": []},
        ),
        # A mask without a setup forces those fields to their defaults.
        (
            None,
            ["generationConfig.topK"],
            {"model": "a", "generationConfig": {"temperature": 1}, "tools": []},
        ),
    ],
)
def test_merge_rules(token_setup: Any, mask: list[str], expected: dict[str, Any]) -> None:
    """merge_setup follows spec §3.1's three rules."""
    app = {"model": "a", "generationConfig": {"temperature": 1, "topK": 5}, "tools": []}
    assert merge_setup(app, token_setup, mask) == expected
    assert app["generationConfig"] == {"temperature": 1, "topK": 5}  # not mutated


async def test_history_limit_bounds_the_live_records() -> None:
    """With history_limit, session records and resumption handles keep only the newest."""
    config = EmulatorConfig(api_keys=frozenset({KEY}), history_limit=2)
    async with Emulator(config) as emu, aiohttp.ClientSession() as http:
        for _ in range(3):
            async with http.post(
                f"{emu.base_url}/v1alpha/auth_tokens", json={}, headers={"x-goog-api-key": KEY}
            ) as response:
                token = (await response.json())["name"]
            first = {"setup": {"model": "m", "sessionResumption": {}}}
            await _session(http, f"{emu.websocket_url()}?access_token={token}", first)
        assert len(emu.live_sessions) == 2
        assert len(emu.live.uses_spent) == 2


async def test_emulator_command_serves_tls_with_the_ca_it_wrote(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--tls-ca-out: the emulator serves https/wss and the written CA is all a client needs."""
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    ca = tmp_path / "ca.pem"
    args = parser.parse_args(["--listen", "127.0.0.1:0", "--api-key", KEY, "--tls-ca-out", str(ca)])
    stop = asyncio.Event()
    task = asyncio.create_task(run_from_args(args, stop=stop))
    err = ""
    for _ in range(500):
        err += capsys.readouterr().err
        if "wss://" in err or task.done():
            break
        await asyncio.sleep(0.01)
    match = re.search(r"https://127\.0\.0\.1:\d+", err)
    assert match is not None, err
    trusted = ssl.create_default_context(cafile=ca)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{match.group(0)}/v1beta/auth_tokens",
                json={},
                headers={"x-goog-api-key": KEY},
                ssl=trusted,
            ) as response:
                token = (await response.json())["name"]
            url = match.group(0).replace("https://", "wss://") + (
                "/ws/google.ai.generativelanguage.v1beta.GenerativeService."
                f"BidiGenerateContentConstrained?access_token={token}"
            )
            async with http.ws_connect(url, ssl=trusted) as ws:
                await ws.send_json(SETUP)
                assert await ws.receive_json() == {"setupComplete": {}}
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)


async def test_under_a_full_lock_the_apps_resumption_handle_is_ignored(
    emulator: Emulator, mint: Mint, ws_session: aiohttp.ClientSession
) -> None:
    """A full-lock token drops the app's handle [3P], so a reconnect is a new session. [U]"""
    body = {"uses": 1, "bidiGenerateContentSetup": {"model": "models/m", "sessionResumption": {}}}
    token = await _token(mint, body)
    url = f"{emulator.websocket_url()}?access_token={token}"
    received, _ = await _session(ws_session, url)
    [update] = [m for m in received if "sessionResumptionUpdate" in m]
    handle = update["sessionResumptionUpdate"]["newHandle"]
    resume = {"setup": {"model": "models/m", "sessionResumption": {"handle": handle}}}
    assert await _close_of(ws_session, url, resume) == (1008, "Auth token has no uses left.")
    assert [s.resumed for s in emulator.live_sessions] == [False, False]
