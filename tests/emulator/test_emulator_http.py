"""The emulator answers like Google's auth_tokens endpoint (spec §1, §2, §3.2, §5, §7, §10)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from emulator_helpers import KEY, NOW, OTHER_KEY, Mint, details_of, error_of, rfc3339

from livetokens.emulator import Emulator, EmulatorConfig, fingerprint

MASK_INVALID = "field_mask is invalid for BidiGenerateContentSetup"
MASK_UNCOVERED = "BidiGenerateContentSetup contains fields that are not specified in field_mask"
MODEL = "models/gemini-live-2.5-flash-preview"


def _unknown(name: str, path: str) -> str:
    return f"Invalid JSON payload received. Unknown name \"{name}\" at '{path}': Cannot find field."


# Routes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["v1alpha", "v1beta"])
async def test_both_versions_mint(emulator: Emulator, mint: Mint, version: str) -> None:
    """POST /v1alpha/auth_tokens and /v1beta/auth_tokens both mint and answer only a name."""
    response = await mint({}, version=version)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"name"}
    assert body["name"].startswith("auth_tokens/")
    assert len(body["name"]) > len("auth_tokens/")
    assert emulator.tokens[body["name"]].api_version == version


async def test_token_names_are_unique(mint: Mint) -> None:
    """Every mint answers a different name."""
    names = {(await mint({})).json()["name"] for _ in range(20)}
    assert len(names) == 20


@pytest.mark.parametrize(
    "path",
    [
        "/v1/auth_tokens",
        "/v1alpha/authTokens",
        "/v1beta/authTokens",
        "/v1beta/auth_tokens/",
        "/v1beta/auth_tokens:create",
        "/auth_tokens",
    ],
)
async def test_other_paths_are_not_found(
    emulator: Emulator, http: httpx.AsyncClient, path: str
) -> None:
    """v1, the authTokens spelling and any other path answer 404 NOT_FOUND in Google's shape."""
    response = await http.post(path, json={}, headers={"x-goog-api-key": KEY})
    assert response.status_code == 404
    assert error_of(response)["status"] == "NOT_FOUND"
    assert emulator.tokens == {}


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
async def test_other_methods_are_405(http: httpx.AsyncClient, method: str) -> None:
    """Methods other than POST on the auth_tokens route answer 405 with Allow: POST."""
    response = await http.request(method, "/v1alpha/auth_tokens", headers={"x-goog-api-key": KEY})
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert error_of(response)["code"] == 405


# Authentication --------------------------------------------------------------------------


async def test_missing_key_is_permission_denied(emulator: Emulator, mint: Mint) -> None:
    """No key: 403 PERMISSION_DENIED with Google's "unregistered callers" message (spec §7)."""
    response = await mint({}, key=None)
    assert response.status_code == 403
    error = error_of(response)
    assert error["status"] == "PERMISSION_DENIED"
    assert error["message"] == (
        "Method doesn't allow unregistered callers (callers without established identity). "
        "Please use API Key or other form of API consumer identity to call this API."
    )
    assert emulator.tokens == {}


async def test_empty_key_counts_as_missing(mint: Mint) -> None:
    """An empty x-goog-api-key header is treated like no key at all."""
    response = await mint({}, key="")
    assert response.status_code == 403


async def test_unknown_key_is_api_key_invalid(emulator: Emulator, mint: Mint) -> None:
    """Another key: 400 INVALID_ARGUMENT, ErrorInfo API_KEY_INVALID and a LocalizedMessage."""
    response = await mint({}, key=OTHER_KEY)
    assert response.status_code == 400
    error = error_of(response)
    assert error["status"] == "INVALID_ARGUMENT"
    assert error["message"] == "API key not valid. Please pass a valid API key."
    [info] = details_of(error, "ErrorInfo")
    assert info["reason"] == "API_KEY_INVALID"
    assert info["domain"] == "googleapis.com"
    assert info["metadata"] == {"service": "generativelanguage.googleapis.com"}
    [localized] = details_of(error, "LocalizedMessage")
    assert localized["message"] == error["message"]
    assert emulator.tokens == {}


async def test_key_query_parameter_is_accepted(emulator: Emulator, http: httpx.AsyncClient) -> None:
    """``?key=`` authenticates like the header, and is captured redacted."""
    response = await http.post("/v1beta/auth_tokens", params={"key": KEY}, json={})
    assert response.status_code == 200
    captured = emulator.requests[-1]
    assert captured.query == {"key": "<redacted>"}
    assert captured.api_key_fingerprint == fingerprint(KEY)


async def test_captured_request_redacts_the_key(emulator: Emulator, mint: Mint) -> None:
    """The captured headers hold "<redacted>" for the key and the body as sent."""
    await mint({"uses": 3})
    captured = emulator.requests[-1]
    assert captured.method == "POST"
    assert captured.path == "/v1alpha/auth_tokens"
    assert captured.headers["x-goog-api-key"] == "<redacted>"
    assert KEY not in repr(captured)
    assert captured.body_json == {"uses": 3}
    assert captured.status == 200
    assert captured.api_version == "v1alpha"
    assert captured.api_key_fingerprint == fingerprint(KEY)


async def test_key_is_checked_before_the_body(mint: Mint) -> None:
    """A missing key wins over a malformed body: 403, not 400."""
    response = await mint(b"{not json", key=None)
    assert response.status_code == 403


# Body parsing ----------------------------------------------------------------------------


@pytest.mark.parametrize("body", [None, {}, b"  \n", b"null"])
async def test_empty_body_mints_with_default_times(
    emulator: Emulator, mint: Mint, body: Any
) -> None:
    """An empty body mints with uses 1, expiry now+30 min and new sessions until now+60 s."""
    response = await mint(body)
    assert response.status_code == 200
    token = emulator.tokens[response.json()["name"]]
    assert token.uses == 1
    assert token.expire_time == NOW + timedelta(minutes=30)
    assert token.new_session_expire_time == NOW + timedelta(seconds=60)
    assert token.setup is None
    assert token.field_mask == []
    assert token.create_time == NOW
    assert token.api_key_fingerprint == fingerprint(KEY)


async def test_camel_and_snake_case_are_accepted_at_every_depth(
    emulator: Emulator, mint: Mint
) -> None:
    """snake_case works at the top, in the setup, in generationConfig, deeper and in the mask."""
    expire = NOW + timedelta(minutes=10)
    body = {
        "uses": 2,
        "expire_time": rfc3339(expire),
        "newSessionExpireTime": rfc3339(NOW + timedelta(minutes=1)),
        "bidi_generate_content_setup": {
            "model": MODEL,
            "generation_config": {
                "response_modalities": ["AUDIO"],
                "topK": 40,
                "speech_config": {
                    "voice_config": {"prebuilt_voice_config": {"voice_name": "Kore"}}
                },
            },
            "realtime_input_config": {"automatic_activity_detection": {"disabled": True}},
            "systemInstruction": {"parts": [{"text": "Be brief."}], "role": "user"},
        },
        "field_mask": (
            "model,generation_config.response_modalities,generationConfig.top_k,"
            "generationConfig.speechConfig,realtime_input_config,systemInstruction"
        ),
    }
    response = await mint(body)
    assert response.status_code == 200, response.text
    token = emulator.tokens[response.json()["name"]]
    assert token.uses == 2
    assert token.expire_time == expire
    assert token.setup == {
        "model": MODEL,
        "generationConfig": {
            "responseModalities": ["AUDIO"],
            "topK": 40,
            # Deeper than generationConfig, objects are stored exactly as sent.
            "speechConfig": {"voice_config": {"prebuilt_voice_config": {"voice_name": "Kore"}}},
        },
        "realtimeInputConfig": {"automatic_activity_detection": {"disabled": True}},
        "systemInstruction": {"parts": [{"text": "Be brief."}], "role": "user"},
    }
    assert token.field_mask == [
        "model",
        "generationConfig.responseModalities",
        "generationConfig.topK",
        "generationConfig.speechConfig",
        "realtimeInputConfig",
        "systemInstruction",
    ]


async def test_unknown_top_level_name_is_rejected(emulator: Emulator, mint: Mint) -> None:
    """An unknown top-level name: 400 with Google's "Unknown name … at 'auth_token'" BadRequest."""
    response = await mint({"uses": 1, "authToken": {}})
    assert response.status_code == 400
    error = error_of(response)
    assert error["status"] == "INVALID_ARGUMENT"
    assert error["message"] == _unknown("authToken", "auth_token")
    [bad_request] = details_of(error, "BadRequest")
    assert bad_request["fieldViolations"] == [
        {"field": "auth_token", "description": _unknown("authToken", "auth_token")}
    ]
    assert emulator.tokens == {}


async def test_unknown_nested_names_are_all_reported(mint: Mint) -> None:
    """Unknown names in the setup and in generationConfig are reported together, one per line."""
    body = {
        "bidiGenerateContentSetup": {
            "model": MODEL,
            "speechConfig": {},  # belongs inside generationConfig (spec §2.1)
            "generationConfig": {"temperature": 0.5, "responseModality": ["TEXT"]},
        }
    }
    response = await mint(body)
    assert response.status_code == 400
    error = error_of(response)
    setup_path = "auth_token.bidi_generate_content_setup"
    config_path = setup_path + ".generation_config"
    assert error["message"] == "\n".join(
        [_unknown("speechConfig", setup_path), _unknown("responseModality", config_path)]
    )
    [bad_request] = details_of(error, "BadRequest")
    assert [v["field"] for v in bad_request["fieldViolations"]] == [setup_path, config_path]


@pytest.mark.parametrize(
    "name", ["safetySettings", "avatarConfig", "labels", "historyConfig", "proactivity"]
)
async def test_python_sdk_setup_fields_are_known(mint: Mint, name: str) -> None:
    """Setup fields the Python SDK sends (safetySettings, avatarConfig, labels, …) are accepted."""
    value: Any = [] if name == "safetySettings" else {}
    response = await mint({"bidiGenerateContentSetup": {"model": MODEL, name: value}})
    assert response.status_code == 200, response.text


async def test_every_generation_config_field_is_known(mint: Mint) -> None:
    """All GenerationConfig names from spec §4.1 are accepted in either spelling."""
    from livetokens.emulator._schema import GENERATION_CONFIG_FIELDS, snake_to_camel

    config = {
        (snake_to_camel(name) if i % 2 else name): None
        for i, name in enumerate(GENERATION_CONFIG_FIELDS)
    }
    assert len(config) == 26
    response = await mint({"bidiGenerateContentSetup": {"generationConfig": config}})
    assert response.status_code == 200, response.text


async def test_both_spellings_of_one_field_are_rejected(mint: Mint) -> None:
    """Sending a field twice, once per spelling, is a 400 rather than a silent pick."""
    response = await mint({"expireTime": rfc3339(NOW), "expire_time": rfc3339(NOW)})
    assert response.status_code == 400
    assert "expire_time" in error_of(response)["message"]


async def test_live_connect_constraints_rejected_by_default(mint: Mint) -> None:
    """liveConnectConstraints is an unknown name unless configured (spec §2, [T3])."""
    response = await mint({"liveConnectConstraints": {"model": MODEL}})
    assert response.status_code == 400
    assert error_of(response)["message"] == _unknown("liveConnectConstraints", "auth_token")


@pytest.mark.parametrize(
    "emulator_config",
    [
        EmulatorConfig(
            api_keys=frozenset({KEY}), accept_live_connect_constraints=True, clock=lambda: NOW
        )
    ],
)
async def test_live_connect_constraints_accepted_when_configured(
    emulator: Emulator, mint: Mint
) -> None:
    """With accept_live_connect_constraints the docs' REST example mints and is stored."""
    constraints = {
        "model": MODEL,
        "config": {"sessionResumption": {}, "responseModalities": ["AUDIO"]},
    }
    response = await mint({"uses": 1, "liveConnectConstraints": constraints})
    assert response.status_code == 200, response.text
    token = emulator.tokens[response.json()["name"]]
    assert token.live_connect_constraints == constraints
    both = await mint({"liveConnectConstraints": constraints, "bidiGenerateContentSetup": {}})
    assert both.status_code == 400
    bad_inner = await mint({"liveConnectConstraints": {"modle": MODEL}})
    assert error_of(bad_inner)["message"] == _unknown(
        "modle", "auth_token.live_connect_constraints"
    )


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe", b'{"uses": 1,}'])
async def test_non_json_body_is_invalid_json(mint: Mint, raw: bytes) -> None:
    """A body that is not JSON: 400 "Invalid JSON payload received." """
    response = await mint(raw)
    assert response.status_code == 400
    error = error_of(response)
    assert error["status"] == "INVALID_ARGUMENT"
    assert error["message"].startswith("Invalid JSON payload received.")


@pytest.mark.parametrize("raw", [b"[]", b"3", b'"x"'])
async def test_root_must_be_an_object(mint: Mint, raw: bytes) -> None:
    """JSON that is not an object at the root is rejected."""
    response = await mint(raw)
    assert response.status_code == 400
    assert error_of(response)["message"] == (
        "Invalid JSON payload received. Root element must be a message."
    )


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"bidiGenerateContentSetup": "x"}, "auth_token.bidi_generate_content_setup"),
        (
            {"bidiGenerateContentSetup": {"model": 3}},
            "auth_token.bidi_generate_content_setup.model",
        ),
        (
            {"bidiGenerateContentSetup": {"tools": [1]}},
            "auth_token.bidi_generate_content_setup.tools[0]",
        ),
        ({"fieldMask": 7}, "auth_token.field_mask"),
        ({"uses": "many"}, "auth_token.uses"),
        ({"uses": 1.5}, "auth_token.uses"),
        ({"uses": True}, "auth_token.uses"),
        ({"uses": 2**31}, "auth_token.uses"),
        ({"expireTime": 1700000000}, "auth_token.expire_time"),
    ],
)
async def test_values_of_the_wrong_type_are_rejected(
    mint: Mint, body: dict[str, Any], path: str
) -> None:
    """A value of the wrong JSON type: 400 "Invalid value at '<path>' …" naming the field."""
    response = await mint(body)
    assert response.status_code == 400
    error = error_of(response)
    assert error["message"].startswith(f"Invalid value at '{path}'")
    [bad_request] = details_of(error, "BadRequest")
    assert bad_request["fieldViolations"][0]["field"] == path


async def test_list_for_a_singular_field_is_rejected(mint: Mint) -> None:
    """A list where one value belongs (fieldMask as the SDK's pre-join list): 400."""
    response = await mint({"fieldMask": ["model"]})
    assert response.status_code == 400
    assert "Proto field is not repeating, cannot start list." in error_of(response)["message"]


async def test_name_is_output_only(emulator: Emulator, mint: Mint) -> None:
    """A name on input is rejected (spec §2 leaves this [U]; the emulator is strict)."""
    response = await mint({"name": "auth_tokens/mine"})
    assert response.status_code == 400
    [bad_request] = details_of(error_of(response), "BadRequest")
    assert bad_request["fieldViolations"][0]["field"] == "auth_token.name"
    assert emulator.tokens == {}


# Validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(("sent", "stored"), [(0, 0), (1, 1), (7, 7), ("3", 3), (2.0, 2)])
async def test_uses_accepts_non_negative_integers(
    emulator: Emulator, mint: Mint, sent: Any, stored: int
) -> None:
    """uses takes any int >= 0 (0 = unlimited) in proto3 JSON's int forms."""
    response = await mint({"uses": sent})
    assert response.status_code == 200, response.text
    assert emulator.tokens[response.json()["name"]].uses == stored


async def test_negative_uses_is_rejected(emulator: Emulator, mint: Mint) -> None:
    """uses = -1: 400 INVALID_ARGUMENT naming auth_token.uses."""
    response = await mint({"uses": -1})
    assert response.status_code == 400
    error = error_of(response)
    assert error["status"] == "INVALID_ARGUMENT"
    [bad_request] = details_of(error, "BadRequest")
    assert bad_request["fieldViolations"][0]["field"] == "auth_token.uses"
    assert emulator.tokens == {}


@pytest.mark.parametrize("field", ["expireTime", "newSessionExpireTime"])
async def test_naive_timestamp_is_rejected(mint: Mint, field: str) -> None:
    """A timestamp without offset (naive isoformat(), spec §2 [V]) is 400."""
    response = await mint({field: "2030-01-01T12:10:00"})
    assert response.status_code == 400
    message = error_of(response)["message"]
    assert "Illegal timestamp format" in message
    assert "must end with 'Z' or have a valid timezone offset" in message


@pytest.mark.parametrize(
    "text", ["tomorrow", "2030-01-01", "2030-13-01T00:00:00Z", "2030-01-01T12:00:00+25:00"]
)
async def test_unparseable_timestamp_is_rejected(mint: Mint, text: str) -> None:
    """Text that is not an RFC 3339 timestamp is 400 "Invalid time format"."""
    response = await mint({"expireTime": text})
    assert response.status_code == 400
    assert "Invalid time format" in error_of(response)["message"]


async def test_offsets_and_fractions_are_normalised_to_utc(emulator: Emulator, mint: Mint) -> None:
    """+02:00 offsets, lower-case z and nanosecond fractions parse to the same UTC instant."""
    body = {
        "expireTime": "2030-01-01T14:30:00.123456789+02:00",
        "newSessionExpireTime": "2030-01-01t12:01:00z",
    }
    response = await mint(body)
    assert response.status_code == 200, response.text
    token = emulator.tokens[response.json()["name"]]
    assert token.expire_time == NOW + timedelta(minutes=30, microseconds=123456)
    assert token.new_session_expire_time == NOW + timedelta(minutes=1)


@pytest.mark.parametrize("field", ["expireTime", "newSessionExpireTime"])
async def test_twenty_hours_ahead_is_rejected(emulator: Emulator, mint: Mint, field: str) -> None:
    """Each time must be less than now + 20 h: exactly 20 h is 400, one second less is fine."""
    at_limit = await mint({field: rfc3339(NOW + timedelta(hours=20))})
    assert at_limit.status_code == 400
    error = error_of(at_limit)
    assert error["status"] == "INVALID_ARGUMENT"
    assert "20 hours" in error["message"]
    just_under = await mint(
        {
            "expireTime": rfc3339(NOW + timedelta(hours=20, seconds=-1)),
            "newSessionExpireTime": rfc3339(NOW + timedelta(hours=20, seconds=-1)),
        }
    )
    assert just_under.status_code == 200, just_under.text


async def test_new_session_after_expiry_is_accepted(emulator: Emulator, mint: Mint) -> None:
    """newSessionExpireTime later than expireTime is stored as sent (spec §2 [U])."""
    body = {
        "expireTime": rfc3339(NOW + timedelta(minutes=5)),
        "newSessionExpireTime": rfc3339(NOW + timedelta(minutes=10)),
    }
    response = await mint(body)
    assert response.status_code == 200
    token = emulator.tokens[response.json()["name"]]
    assert token.new_session_expire_time > token.expire_time


# Field mask ------------------------------------------------------------------------------


def _setup(**extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "generationConfig": {"temperature": 0.7, "topK": 20}, **extra}


@pytest.mark.parametrize(
    "mask",
    [
        "model,tools.0",
        "model,systemInstruction.parts",
        "model,generationConfig.bogus",
        "model,bogus",
        "model,generationConfig.temperature.value",
        "model,",
        "model, generationConfig",
        "model,temperature",
        "model,explicitVadSignal",
    ],
)
async def test_invalid_mask_path_is_rejected(emulator: Emulator, mint: Mint, mask: str) -> None:
    """A path not a setup field nor generationConfig.<field>: 400 "field_mask is invalid…"."""
    response = await mint({"bidiGenerateContentSetup": _setup(), "fieldMask": mask})
    assert response.status_code == 400
    error = error_of(response)
    assert error["status"] == "INVALID_ARGUMENT"
    assert error["message"] == MASK_INVALID
    assert emulator.tokens == {}


@pytest.mark.parametrize(
    ("setup", "mask"),
    [
        (_setup(), "model"),
        (_setup(), "model,generationConfig.temperature"),
        (_setup(sessionResumption={}), "model,generationConfig"),
        ({"model": MODEL, "generationConfig": {}}, "model"),
    ],
)
async def test_uncovered_setup_field_is_rejected(
    mint: Mint, setup: dict[str, Any], mask: str
) -> None:
    """A set field the non-empty mask does not cover: 400 "…not specified in field_mask" ([I9])."""
    response = await mint({"bidiGenerateContentSetup": setup, "fieldMask": mask})
    assert response.status_code == 400
    error = error_of(response)
    assert error["status"] == "INVALID_ARGUMENT"
    assert error["message"] == MASK_UNCOVERED


async def test_generation_config_path_covers_its_subfields(emulator: Emulator, mint: Mint) -> None:
    """The mask path ``generationConfig`` covers every generationConfig subfield."""
    response = await mint(
        {"bidiGenerateContentSetup": _setup(), "fieldMask": "model,generationConfig"}
    )
    assert response.status_code == 200, response.text
    assert emulator.tokens[response.json()["name"]].field_mask == ["model", "generationConfig"]


async def test_duplicate_mask_paths_are_tolerated(emulator: Emulator, mint: Mint) -> None:
    """Duplicate paths (the Python SDK can send them) mint; the stored mask is de-duplicated."""
    mask = (
        "model,generationConfig.temperature,generationConfig.topK,"
        "generationConfig.temperature,generation_config.top_k,model"
    )
    response = await mint({"bidiGenerateContentSetup": _setup(), "fieldMask": mask})
    assert response.status_code == 200, response.text
    assert emulator.tokens[response.json()["name"]].field_mask == [
        "model",
        "generationConfig.temperature",
        "generationConfig.topK",
    ]


async def test_mask_may_lock_fields_absent_from_the_setup(emulator: Emulator, mint: Mint) -> None:
    """Masked paths need not be set in the setup (forced to default, spec §3.1)."""
    body = {
        "bidiGenerateContentSetup": _setup(),
        "fieldMask": (
            "model,generationConfig.temperature,generationConfig.topK,output_audio_transcription"
        ),
    }
    response = await mint(body)
    assert response.status_code == 200, response.text
    assert "outputAudioTranscription" in emulator.tokens[response.json()["name"]].field_mask


async def test_mask_without_setup_mints(emulator: Emulator, mint: Mint) -> None:
    """A mask with no setup (SDK example 5, spec §4.4) mints an otherwise unconstrained token."""
    response = await mint({"fieldMask": "output_audio_transcription"})
    assert response.status_code == 200, response.text
    token = emulator.tokens[response.json()["name"]]
    assert token.setup is None
    assert token.field_mask == ["outputAudioTranscription"]


async def test_setup_without_mask_is_a_full_lock(emulator: Emulator, mint: Mint) -> None:
    """A setup with no mask mints (the full lock of spec §3.1 rule 2)."""
    response = await mint(
        {"uses": 2, "bidiGenerateContentSetup": _setup(tools=[{"googleSearch": {}}])}
    )
    assert response.status_code == 200, response.text
    token = emulator.tokens[response.json()["name"]]
    assert token.field_mask == []
    assert token.setup is not None
    assert token.setup["tools"] == [{"googleSearch": {}}]


async def test_errors_are_checked_before_the_mask(mint: Mint) -> None:
    """An unknown name is reported even when the mask is also wrong (parse errors come first)."""
    body = {"bidiGenerateContentSetup": _setup(bogus=1), "fieldMask": "tools.0"}
    response = await mint(body)
    assert response.status_code == 400
    assert 'Unknown name "bogus"' in error_of(response)["message"]


# History ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "emulator_config", [EmulatorConfig(api_keys=frozenset({KEY}), history_limit=3)]
)
async def test_history_limit_keeps_the_newest(emulator: Emulator, mint: Mint) -> None:
    """With history_limit, only the newest requests and tokens are kept."""
    names = [(await mint({"uses": i})).json()["name"] for i in range(5)]
    assert [r.body_json for r in emulator.requests] == [{"uses": 2}, {"uses": 3}, {"uses": 4}]
    assert list(emulator.tokens) == names[2:]


def test_config_rejects_a_single_string_of_keys() -> None:
    """api_keys="abc" would accept the keys "a", "b" and "c"; the config refuses it."""
    with pytest.raises(TypeError):
        EmulatorConfig(api_keys="abc")  # type: ignore[arg-type]
    assert EmulatorConfig(api_keys={"abc"}).api_keys == frozenset({"abc"})  # type: ignore[arg-type]


async def test_oversized_body_is_rejected(emulator: Emulator, mint: Mint) -> None:
    """A body over Google's 20 MiB limit: 400 "Request payload size exceeds the limit…"."""
    response = await mint(b"{" + b" " * (20 * 1024 * 1024) + b"}")
    assert response.status_code == 400
    assert error_of(response)["message"].startswith("Request payload size exceeds the limit")
    assert emulator.tokens == {}


async def test_emulator_bug_still_answers_in_googles_shape(
    mint: Mint, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An unexpected exception inside the emulator answers 500 INTERNAL in Google's shape."""

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("emulator bug")

    monkeypatch.setattr("livetokens.emulator._server.validate", broken)
    response = await mint({})
    assert response.status_code == 500
    assert error_of(response)["status"] == "INTERNAL"
    assert "emulator failed" in caplog.text
    assert KEY not in caplog.text
