"""End to end: mint through livetokens, open the Live session with google-genai 3.6.1.

The emulator speaks TLS (the SDK's Live client always uses ``wss``); the SDK trusts the
test CA through ``async_client_args={"ssl": ...}``. The token is the api_key of an
ephemeral client, which the SDK sends as ``Authorization: Token auth_tokens/…`` on
``…BidiGenerateContentConstrained``. The effective setup is read from the emulator's
inspection route and compared with what ``Token.lock`` promised.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
from e2e_support import MovableClock, sessions_of
from google import genai
from google.genai import errors, types
from google.protobuf import duration_pb2

from livetokens.emulator import Emulator, LoopbackTLS
from livetokens.server import translate
from livetokens.v1 import live_config_pb2 as lc
from livetokens.v1 import token_service_pb2 as ts
from livetokens.v1 import token_service_pb2_grpc as ts_grpc

pytestmark = [
    # The SDK warns that ephemeral tokens are experimental (spec §0): expected here.
    pytest.mark.filterwarnings("ignore:The SDK's ephemeral token support is experimental"),
    pytest.mark.filterwarnings(
        "ignore:Inheritance class AiohttpClientSession from ClientSession is discouraged"
        ":DeprecationWarning"
    ),
]

TOKEN_MODEL = "gemini-live-2.5-flash-preview"
APP_MODEL = "gemini-2.0-flash-live-001"


def _constraints() -> ts.LiveConstraints:
    return ts.LiveConstraints(
        model=TOKEN_MODEL,
        config=lc.LiveConfig(
            response_modalities=[lc.MODALITY_TEXT],
            temperature=0.25,
            system_instruction=lc.Content(parts=[lc.Part(text="You are a patient tutor.")]),
        ),
    )


# The app tries to change locked fields (modality, temperature, system instruction,
# model) and unlocked ones (top_p, max_output_tokens, output transcription).
APP_CONFIG = types.LiveConnectConfig(
    response_modalities=[types.Modality.AUDIO],
    temperature=0.9,
    top_p=0.5,
    max_output_tokens=64,
    system_instruction="You are a pirate.",
    output_audio_transcription=types.AudioTranscriptionConfig(),
)

LOCK_CASES: dict[str, ts.TokenRequest] = {
    "all": ts.TokenRequest(constraints=_constraints(), lock=ts.Lock(mode=ts.LOCK_MODE_ALL)),
    "set_fields": ts.TokenRequest(
        constraints=_constraints(), lock=ts.Lock(mode=ts.LOCK_MODE_SET_FIELDS)
    ),
    "set_fields_plus_additional": ts.TokenRequest(
        constraints=_constraints(),
        lock=ts.Lock(
            mode=ts.LOCK_MODE_SET_FIELDS,
            additional_fields=[
                ts.LOCKABLE_FIELD_TOP_P,
                ts.LOCKABLE_FIELD_OUTPUT_AUDIO_TRANSCRIPTION,
            ],
        ),
    ),
    "unconstrained": ts.TokenRequest(),
}


def ephemeral_client(emulator: Emulator, tls: LoopbackTLS, token_name: str) -> genai.Client:
    """An app's client: the token as api_key, v1alpha, the emulator as base URL."""
    return genai.Client(
        api_key=token_name,
        http_options=types.HttpOptions(
            base_url=emulator.base_url,
            api_version="v1alpha",
            async_client_args={"ssl": tls.client},
        ),
    )


# The app_client fixture: a token name → an app's client, closed after the test.
AppClient = Callable[[str], genai.Client]


@pytest.fixture
async def app_client(emulator: Emulator, tls: LoopbackTLS) -> AsyncIterator[AppClient]:
    """Makes an app's client for a token name (ephemeral_client); all are closed afterwards."""
    made: list[genai.Client] = []

    def make(token_name: str) -> genai.Client:
        client = ephemeral_client(emulator, tls, token_name)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aio.aclose()


async def _echo_turn(session: Any, text: str) -> str:
    await session.send_client_content(
        turns=types.Content(role="user", parts=[types.Part(text=text)]), turn_complete=True
    )
    reply = ""
    async for message in session.receive():
        if message.text:
            reply += message.text
        if message.server_content and message.server_content.turn_complete:
            break
    return reply


def _get(setup: dict[str, Any], path: str) -> Any:
    head, _, sub = path.partition(".")
    value = setup.get(head)
    if sub:
        return value.get(sub) if isinstance(value, dict) else None
    return value


def _app_paths(app: dict[str, Any]) -> set[str]:
    paths = set()
    for key, value in app.items():
        if key == "generationConfig" and isinstance(value, dict):
            paths |= {f"generationConfig.{sub}" for sub in value}
        else:
            paths.add(key)
    return paths


@pytest.mark.parametrize("case", sorted(LOCK_CASES))
async def test_effective_setup_is_what_token_lock_promised(
    case: str,
    stub: ts_grpc.TokenServiceStub,
    emulator: Emulator,
    tls: LoopbackTLS,
    app_client: AppClient,
) -> None:
    """A token minted through livetokens starts a session whose setup is exactly Token.lock's."""
    request = LOCK_CASES[case]
    token = await stub.MintToken(request)
    assert token.websocket_url == emulator.websocket_url("v1alpha")
    client = app_client(token.name)
    async with client.aio.live.connect(model=APP_MODEL, config=APP_CONFIG) as session:
        assert await _echo_turn(session, "hello tutor") == "hello tutor"

    [seen] = await sessions_of(emulator, token.name, tls.client)
    effective, app = seen["effectiveSetup"], seen["appSetup"]
    token_setup = translate.build_setup(request.constraints)[0] if request.constraints.model else {}
    if token.lock.whole_setup:
        assert effective == token_setup
    else:
        locked = set(token.lock.field_paths)
        for path in locked:
            assert _get(effective, path) == _get(token_setup, path), path
        for path in _app_paths(app) - locked:
            assert _get(effective, path) == _get(app, path), path
        assert _app_paths(effective) <= _app_paths(app) | locked
    # The same facts, spelled out per case, so a wrong Token.lock cannot pass unnoticed.
    gen = effective.get("generationConfig", {})
    if case == "unconstrained":
        assert not token.lock.whole_setup
        assert not token.lock.field_paths
        assert effective["model"] == f"models/{APP_MODEL}"
        assert gen["responseModalities"] == ["AUDIO"]
        assert gen["temperature"] == 0.9
    else:
        assert effective["model"] == f"models/{TOKEN_MODEL}"
        assert gen["responseModalities"] == ["TEXT"]
        assert gen["temperature"] == 0.25
        assert effective["systemInstruction"]["parts"] == [{"text": "You are a patient tutor."}]
    if case == "all":
        assert token.lock.whole_setup
        assert "topP" not in gen
        assert "outputAudioTranscription" not in effective
    if case == "set_fields":
        assert gen["topP"] == 0.5
        assert gen["maxOutputTokens"] == 64
        assert effective["outputAudioTranscription"] == {}
    if case == "set_fields_plus_additional":
        assert "generationConfig.topP" in token.lock.field_paths
        assert "topP" not in gen
        assert "outputAudioTranscription" not in effective
        assert gen["maxOutputTokens"] == 64


def _span(seconds: float) -> duration_pb2.Duration:
    span = duration_pb2.Duration()
    span.FromTimedelta(timedelta(seconds=seconds))
    return span


async def _refused(client: genai.Client) -> errors.APIError:
    with pytest.raises(errors.APIError) as caught:
        async with client.aio.live.connect(model=APP_MODEL, config=APP_CONFIG):
            pass
    return caught.value


async def test_a_used_up_token_is_refused(
    stub: ts_grpc.TokenServiceStub,
    emulator: Emulator,
    tls: LoopbackTLS,
    app_client: AppClient,
) -> None:
    """uses=1: the first session starts, the next connect is closed with 1008."""
    token = await stub.MintToken(ts.TokenRequest(uses=1))
    client = app_client(token.name)
    async with client.aio.live.connect(model=APP_MODEL, config=APP_CONFIG) as session:
        assert await _echo_turn(session, "one") == "one"
    refused = await _refused(client)
    assert (refused.code, refused.details) == (1008, "Auth token has no uses left.")
    states = [s["state"] for s in await sessions_of(emulator, token.name, tls.client)]
    assert states == ["closed", "refused"]


async def test_a_token_past_its_new_session_window_is_refused(
    stub: ts_grpc.TokenServiceStub,
    emulator: Emulator,
    tls: LoopbackTLS,
    clock: MovableClock,
    app_client: AppClient,
) -> None:
    """Once newSessionExpireTime has passed (injected clock), a new session is refused."""
    token = await stub.MintToken(ts.TokenRequest(uses=0, new_session_window=_span(30)))
    client = app_client(token.name)
    clock.advance(timedelta(seconds=31))
    refused = await _refused(client)
    assert (refused.code, refused.details) == (1008, "Auth token can no longer start new sessions.")


async def test_an_expired_token_is_refused(
    stub: ts_grpc.TokenServiceStub,
    emulator: Emulator,
    tls: LoopbackTLS,
    clock: MovableClock,
    app_client: AppClient,
) -> None:
    """After expireTime a connect is refused with 1008."""
    token = await stub.MintToken(ts.TokenRequest(lifetime=_span(120)))
    client = app_client(token.name)
    clock.advance(timedelta(seconds=121))
    refused = await _refused(client)
    assert (refused.code, refused.details) == (1008, "Auth token has expired.")


async def test_an_unknown_token_is_refused_with_1007(
    emulator: Emulator, tls: LoopbackTLS, app_client: AppClient
) -> None:
    """A token the upstream never minted gets Google's 1007 'Missing or malformed auth token'."""
    client = app_client("auth_tokens/never-minted")
    refused = await _refused(client)
    assert refused.code == 1007
    assert str(refused.details).startswith("Missing or malformed auth token.")


async def test_expiry_closes_an_open_session(
    stub: ts_grpc.TokenServiceStub,
    emulator: Emulator,
    tls: LoopbackTLS,
    clock: MovableClock,
    app_client: AppClient,
) -> None:
    """A session open when the token expires is closed by the emulator with 1008."""
    token = await stub.MintToken(ts.TokenRequest(lifetime=_span(120)))
    client = app_client(token.name)
    async with client.aio.live.connect(model=APP_MODEL, config=APP_CONFIG) as session:
        assert await _echo_turn(session, "before") == "before"
        clock.advance(timedelta(seconds=121))
        with pytest.raises(errors.APIError) as caught:
            async for _ in session.receive():
                pass
    assert (caught.value.code, caught.value.details) == (1008, "Auth token has expired.")
    [seen] = await sessions_of(emulator, token.name, tls.client)
    assert (seen["state"], seen["closeCode"], seen["turns"]) == ("closed", 1008, 1)


async def test_a_resumption_handle_does_not_spend_a_use(
    stub: ts_grpc.TokenServiceStub,
    emulator: Emulator,
    tls: LoopbackTLS,
    app_client: AppClient,
) -> None:
    """uses=1: a resume with the session's handle starts; a second new session does not."""
    token = await stub.MintToken(ts.TokenRequest(uses=1))
    client = app_client(token.name)
    config = APP_CONFIG.model_copy(update={"session_resumption": types.SessionResumptionConfig()})
    handle = None
    async with client.aio.live.connect(model=APP_MODEL, config=config) as session:
        async for message in session.receive():
            if message.session_resumption_update:
                handle = message.session_resumption_update.new_handle
                break
    assert handle
    resume = config.model_copy(
        update={"session_resumption": types.SessionResumptionConfig(handle=handle)}
    )
    async with client.aio.live.connect(model=APP_MODEL, config=resume) as session:
        assert await _echo_turn(session, "resumed") == "resumed"
    refused = await _refused(client)
    assert (refused.code, refused.details) == (1008, "Auth token has no uses left.")
    seen = await sessions_of(emulator, token.name, tls.client)
    assert [(s["state"], s["resumed"]) for s in seen] == [
        ("closed", False),
        ("closed", True),
        ("refused", False),
    ]
