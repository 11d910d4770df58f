"""``livetokens demo``: the whole flow in one command, on loopback, printing each step.

1. a throwaway CA and loopback certificate (the Live API is ``wss`` only);
2. the bundled emulator over TLS, standing in for Google (REST + Live WebSocket);
3. livetokens in front of it (plaintext gRPC on 127.0.0.1, no caller auth);
4. a backend mints a token through livetokens (``MintToken``);
5. an app opens the token's ``websocket_url``, sends its own setup, gets
   ``setupComplete`` and an echoed model turn;
6. the setup the session really got, from the emulator's inspection route.

Secrets are never printed: the API key and the token name appear only as fingerprints.
Nothing here talks to Google, and everything stops when the demo ends.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import secrets
import sys
from typing import Any, TextIO

import aiohttp
import grpc
import httpx

from livetokens.emulator import (
    INSPECT_PATH,
    Emulator,
    EmulatorConfig,
    TLSUnavailable,
    fingerprint,
    loopback_tls,
)
from livetokens.server.app import create_server
from livetokens.server.settings import Secret, SecuritySettings, Settings, UpstreamSettings
from livetokens.v1 import live_config_pb2 as lc
from livetokens.v1 import token_service_pb2 as ts
from livetokens.v1 import token_service_pb2_grpc as ts_grpc

MODEL = "gemini-live-2.5-flash-preview"
STEPS = 6


def demo_request() -> ts.TokenRequest:
    """What the demo's backend asks for: one session, TEXT at temperature 0.2 with a
    system instruction, locking exactly the fields it sets."""
    return ts.TokenRequest(
        uses=1,
        constraints=ts.LiveConstraints(
            model=MODEL,
            config=lc.LiveConfig(
                response_modalities=[lc.MODALITY_TEXT],
                temperature=0.2,
                system_instruction=lc.Content(parts=[lc.Part(text="Answer briefly.")]),
            ),
        ),
        lock=ts.Lock(mode=ts.LOCK_MODE_SET_FIELDS),
    )


# The app's own setup: it tries a different temperature (locked: the token wins) and
# sets topP (not locked: the app's value stays).
APP_SETUP: dict[str, Any] = {
    "model": "models/gemini-2.0-flash-live-001",
    "generationConfig": {"responseModalities": ["TEXT"], "temperature": 0.9, "topP": 0.5},
}


async def run_demo(text: str, out: TextIO = sys.stdout) -> int:
    """Run the flow once and return the exit status (0: the session answered)."""
    step = _Printer(out)
    try:
        tls = loopback_tls()
    except TLSUnavailable as exc:
        print(f"livetokens demo: {exc}", file=sys.stderr)
        return 2
    step("made a throwaway CA and a certificate for 127.0.0.1 (kept in memory)")

    api_key = "demo-" + secrets.token_hex(16)
    config = EmulatorConfig(api_keys=frozenset({api_key}))
    async with Emulator(config, ssl_context=tls.server) as emulator:
        step(
            f"emulator (NOT Google) on {emulator.base_url}, "
            f"API key fingerprint {fingerprint(api_key)}"
        )
        settings = Settings(
            listen="127.0.0.1:0",
            upstream=UpstreamSettings(base_url=emulator.base_url),
            api_key=Secret(api_key),
            fingerprint_key=Secret(secrets.token_hex(16)),
            security=SecuritySettings(insecure_no_auth=True),
        )
        running = await create_server(
            settings, transport=httpx.AsyncHTTPTransport(verify=tls.client)
        )
        try:
            step(f"livetokens serving livetokens.v1.TokenService on 127.0.0.1:{running.port}")
            async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
                token = await ts_grpc.TokenServiceStub(channel).MintToken(
                    demo_request(), timeout=10
                )
            step(
                f"minted token {token.fingerprint}: uses={token.uses}, "
                f"lock={list(token.lock.field_paths)}, "
                f"expires {token.expire_time.ToJsonString()}"
            )
            reply, effective = await _app_session(emulator, tls.client, token, text, step)
        finally:
            await running.stop(0)
    ok = reply == text and effective is not None
    print(f"demo {'OK' if ok else 'FAILED'}", file=out, flush=True)
    return 0 if ok else 1


async def _app_session(
    emulator: Emulator,
    ssl_context: Any,
    token: ts.Token,
    text: str,
    step: _Printer,
) -> tuple[str, dict[str, Any] | None]:
    reply = ""
    headers = {"Authorization": f"Token {token.name}"}
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(token.websocket_url, headers=headers, ssl=ssl_context) as ws,
    ):
        await ws.send_json({"setup": APP_SETUP})
        first = await ws.receive_json(timeout=10)
        if "setupComplete" not in first:
            step(f"session refused: {first}")
            return "", None
        step(f"app connected to {token.websocket_url}: setupComplete")
        turn = {"turns": [{"role": "user", "parts": [{"text": text}]}], "turnComplete": True}
        await ws.send_json({"clientContent": turn})
        while True:
            message = await ws.receive_json(timeout=10)
            content = message.get("serverContent", {})
            for part in content.get("modelTurn", {}).get("parts", []):
                reply += part.get("text", "")
            if content.get("turnComplete"):
                break
        step.note(f"app said {text!r}; model said {reply!r}")
        await ws.close()
        url = f"{emulator.base_url}{INSPECT_PATH}"
        async with http.get(
            url, params={"token_fingerprint": fingerprint(token.name)}, ssl=ssl_context
        ) as response:
            sessions = (await response.json())["sessions"]
    effective = sessions[-1]["effectiveSetup"] if sessions else None
    step(
        "the session's effective setup (token's locked fields, app's others): "
        + json.dumps(effective, sort_keys=True)
    )
    return reply, effective


@dataclasses.dataclass
class _Printer:
    out: TextIO
    number: int = 0

    def __call__(self, message: str) -> None:
        self.number += 1
        print(f"[{self.number}/{STEPS}] {message}", file=self.out, flush=True)

    def note(self, message: str) -> None:
        print(f"      {message}", file=self.out, flush=True)


def main(text: str) -> int:
    """Entry point used by the CLI."""
    return asyncio.run(run_demo(text))
