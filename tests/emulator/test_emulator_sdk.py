"""The google-genai SDK (3.6.1, test-only) sees the emulator as it would see Google.

For each error the spec documents, the SDK pointed at the emulator raises
``google.genai.errors.ClientError`` with the HTTP code, status and message Google
would send; a successful ``client.aio.auth_tokens.create`` returns an ``auth_tokens/``
name. Every request here goes through the SDK's own request path: bodies the SDK
cannot build from its typed config (an unknown field, a mask the SDK would not emit)
are added with ``HttpOptions.extra_body``, the SDK's documented hook for extra JSON.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from emulator_helpers import KEY, OTHER_KEY
from google import genai
from google.genai import errors, types

from livetokens.emulator import Emulator, EmulatorConfig

MODEL = "gemini-live-2.5-flash-preview"

pytestmark = [
    # The SDK warns once that token creation is experimental (spec §0); expected here.
    pytest.mark.filterwarnings("ignore:The SDK's token creation implementation is experimental"),
    # google-genai 3.6.1 subclasses aiohttp.ClientSession, which aiohttp 3.14 deprecates;
    # the SDK's default (aiohttp) transport is kept because it is what callers run.
    pytest.mark.filterwarnings(
        "ignore:Inheritance class AiohttpClientSession from ClientSession is discouraged"
        ":DeprecationWarning"
    ),
]


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    """The real clock: the SDK tests send times computed from datetime.now()."""
    return EmulatorConfig(api_keys=frozenset({KEY}))


def _client(emulator: Emulator, api_key: str = KEY, **http: Any) -> genai.Client:
    return genai.Client(
        api_key=api_key,
        http_options=types.HttpOptions(base_url=emulator.base_url, api_version="v1alpha", **http),
    )


@pytest.fixture
async def sdk(emulator: Emulator) -> AsyncIterator[genai.Client]:
    """A google-genai client aimed at the emulator with the accepted key."""
    client = _client(emulator)
    yield client
    await client.aio.aclose()


async def _create_error(
    client: genai.Client, config: types.CreateAuthTokenConfig
) -> errors.ClientError:
    with pytest.raises(errors.ClientError) as caught:
        await client.aio.auth_tokens.create(config=config)
    return caught.value


def _detail(error: errors.ClientError, type_name: str) -> dict[str, Any]:
    [found] = [
        d
        for d in error.details["error"].get("details", [])
        if d["@type"] == f"type.googleapis.com/google.rpc.{type_name}"
    ]
    return dict(found)


def _constraints(**config: Any) -> types.LiveConnectConstraints:
    return types.LiveConnectConstraints(
        model=MODEL,
        config=types.LiveConnectConfig(response_modalities=[types.Modality.TEXT], **config),
    )


# Success ---------------------------------------------------------------------------------


async def test_sdk_mints_an_unconstrained_token(emulator: Emulator, sdk: genai.Client) -> None:
    """auth_tokens.create with only uses returns an auth_tokens/ name the emulator stored."""
    token = await sdk.aio.auth_tokens.create(config=types.CreateAuthTokenConfig(uses=1))
    assert token.name is not None
    assert token.name.startswith("auth_tokens/")
    assert emulator.tokens[token.name].uses == 1
    assert emulator.requests[-1].path == "/v1alpha/auth_tokens"


@pytest.mark.parametrize("lock", [None, [], ["top_k"], ["output_audio_transcription"]])
async def test_sdk_constrained_tokens_mint(
    emulator: Emulator, sdk: genai.Client, lock: list[str] | None
) -> None:
    """The SDK's full lock, set-fields lock and extra locks (spec §4.4 examples) all mint."""
    now = datetime.now(UTC)
    config = types.CreateAuthTokenConfig(
        uses=2,
        expire_time=now + timedelta(minutes=30),
        new_session_expire_time=now + timedelta(minutes=1),
        live_connect_constraints=_constraints(temperature=0.7, session_resumption={}),
        lock_additional_fields=lock,
    )
    token = await sdk.aio.auth_tokens.create(config=config)
    assert token.name is not None
    assert token.name.startswith("auth_tokens/")
    stored = emulator.tokens[token.name]
    assert stored.setup is not None
    assert stored.setup["model"] == f"models/{MODEL}"
    assert stored.setup["generationConfig"]["temperature"] == pytest.approx(0.7)
    if lock is None:
        assert stored.field_mask == []
    else:
        assert stored.field_mask[:3] == [
            "model",
            "generationConfig.responseModalities",
            "generationConfig.temperature",
        ]


async def test_sdk_snake_case_speech_config_mints(emulator: Emulator, sdk: genai.Client) -> None:
    """The SDK's snake_case keys inside speechConfig (spec §2 [V]) are accepted."""
    speech = types.SpeechConfig(
        voice_config=types.VoiceConfig(
            prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name="Kore")
        )
    )
    config = types.CreateAuthTokenConfig(
        live_connect_constraints=_constraints(speech_config=speech), lock_additional_fields=[]
    )
    token = await sdk.aio.auth_tokens.create(config=config)
    assert token.name is not None
    stored = emulator.tokens[token.name].setup
    assert stored is not None
    assert "speechConfig" in stored["generationConfig"]


# Errors ----------------------------------------------------------------------------------


async def test_sdk_missing_key(emulator: Emulator) -> None:
    """No key (an empty x-goog-api-key): ClientError 403 PERMISSION_DENIED, unregistered callers."""
    # The SDK refuses to start without a key, so the header is blanked per request.
    client = _client(emulator, headers={"x-goog-api-key": ""})
    try:
        error = await _create_error(client, types.CreateAuthTokenConfig(uses=1))
    finally:
        await client.aio.aclose()
    assert error.code == 403
    assert error.status == "PERMISSION_DENIED"
    assert error.message is not None
    assert error.message.startswith("Method doesn't allow unregistered callers")


async def test_sdk_invalid_key(emulator: Emulator) -> None:
    """An unknown key: ClientError 400 INVALID_ARGUMENT "API key not valid…", API_KEY_INVALID."""
    client = _client(emulator, api_key=OTHER_KEY)
    try:
        error = await _create_error(client, types.CreateAuthTokenConfig(uses=1))
    finally:
        await client.aio.aclose()
    assert error.code == 400
    assert error.status == "INVALID_ARGUMENT"
    assert error.message == "API key not valid. Please pass a valid API key."
    assert _detail(error, "ErrorInfo")["reason"] == "API_KEY_INVALID"


async def test_sdk_unknown_field(sdk: genai.Client) -> None:
    """An unknown body field: ClientError 400 "Unknown name … at 'auth_token'…"."""
    config = types.CreateAuthTokenConfig(
        uses=1, http_options=types.HttpOptions(extra_body={"liveConnectConstraints": {}})
    )
    error = await _create_error(sdk, config)
    assert error.code == 400
    assert error.status == "INVALID_ARGUMENT"
    assert error.message == (
        'Invalid JSON payload received. Unknown name "liveConnectConstraints" at '
        "'auth_token': Cannot find field."
    )
    assert _detail(error, "BadRequest")["fieldViolations"][0]["description"] == error.message


async def test_sdk_invalid_mask_path(sdk: genai.Client) -> None:
    """An array-index lock (``tools.0``, [I1]): ClientError 400 "field_mask is invalid…"."""
    config = types.CreateAuthTokenConfig(
        live_connect_constraints=_constraints(), lock_additional_fields=["tools.0"]
    )
    error = await _create_error(sdk, config)
    assert error.code == 400
    assert error.status == "INVALID_ARGUMENT"
    assert error.message == "field_mask is invalid for BidiGenerateContentSetup"


async def test_sdk_field_not_covered_by_mask(sdk: genai.Client) -> None:
    """A set field outside the mask: ClientError 400 "…not specified in field_mask"."""
    config = types.CreateAuthTokenConfig(
        live_connect_constraints=_constraints(temperature=0.2),
        lock_additional_fields=None,  # no mask from the SDK …
        http_options=types.HttpOptions(extra_body={"fieldMask": "model"}),  # … then a partial one
    )
    error = await _create_error(sdk, config)
    assert error.code == 400
    assert error.status == "INVALID_ARGUMENT"
    assert error.message == (
        "BidiGenerateContentSetup contains fields that are not specified in field_mask"
    )


@pytest.mark.parametrize("field", ["expire_time", "new_session_expire_time"])
async def test_sdk_time_twenty_hours_ahead(sdk: genai.Client, field: str) -> None:
    """A time 20 h or more ahead: ClientError 400 INVALID_ARGUMENT."""
    too_late = datetime.now(UTC) + timedelta(hours=20, minutes=5)
    config = types.CreateAuthTokenConfig(uses=1, **{field: too_late})
    error = await _create_error(sdk, config)
    assert error.code == 400
    assert error.status == "INVALID_ARGUMENT"
    assert error.message == f"{field} must be less than 20 hours in the future."


async def test_sdk_naive_datetime(sdk: genai.Client) -> None:
    """A naive datetime (sent without an offset, spec §2 [V]): ClientError 400 INVALID_ARGUMENT."""
    naive = datetime.now(UTC).replace(tzinfo=None) + timedelta(minutes=5)
    error = await _create_error(sdk, types.CreateAuthTokenConfig(expire_time=naive))
    assert error.code == 400
    assert error.status == "INVALID_ARGUMENT"
    assert error.message is not None
    assert "Illegal timestamp format" in error.message


async def test_sdk_negative_uses(sdk: genai.Client) -> None:
    """uses=-1 (the SDK does not check it): ClientError 400 INVALID_ARGUMENT."""
    error = await _create_error(sdk, types.CreateAuthTokenConfig(uses=-1))
    assert error.code == 400
    assert error.status == "INVALID_ARGUMENT"
    assert error.message == "uses must be greater than or equal to 0, got -1."
