"""The pure translation TokenRequest → AuthToken REST body (spec §2, §4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from lt_support import MODEL, seed_request

from livetokens.server.translate import float32, model_name, rfc3339, translate, websocket_url
from livetokens.v1 import live_config_pb2 as lc
from livetokens.v1 import token_service_pb2 as ts

NOW = datetime(2030, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)


def test_empty_request_gets_the_documented_defaults() -> None:
    """An empty request mints 1 use, 30 min, 1 min, unconstrained, with explicit UTC times."""
    t = translate(ts.TokenRequest(), now=NOW)
    assert t.body == {
        "uses": 1,
        "expireTime": "2030-01-01T12:30:00.123Z",
        "newSessionExpireTime": "2030-01-01T12:01:00.123Z",
    }
    assert (t.uses, t.model, t.lock_all, t.field_paths) == (1, "", False, ())
    assert t.expire_time == datetime(2030, 1, 1, 12, 30, 0, 123000, tzinfo=UTC)


def test_zero_uses_is_sent_as_unlimited_not_as_default() -> None:
    """uses=0 (unlimited) is distinguishable from unset and reaches Google as 0."""
    assert translate(ts.TokenRequest(uses=0), now=NOW).body["uses"] == 0


def test_spans_become_absolute_times_truncated_to_milliseconds() -> None:
    """lifetime and new_session_window become RFC 3339 Z times from the mint time."""
    request = ts.TokenRequest()
    request.lifetime.FromTimedelta(timedelta(hours=19, minutes=59, microseconds=999_999))
    request.new_session_window.FromTimedelta(timedelta(seconds=5))
    t = translate(request, now=NOW)
    assert t.body["expireTime"] == "2030-01-02T07:59:01.122Z"
    assert t.body["newSessionExpireTime"] == "2030-01-01T12:00:05.123Z"


def test_default_window_shrinks_to_a_short_lifetime() -> None:
    """With a 20 s lifetime and no window, the window is 20 s, not 1 min."""
    request = ts.TokenRequest()
    request.lifetime.FromTimedelta(timedelta(seconds=20))
    t = translate(request, now=NOW)
    assert t.new_session_expire_time == t.expire_time


def test_seed_constraints_default_to_a_full_lock_without_field_mask() -> None:
    """Constraints without a lock: the whole setup is locked and no fieldMask is sent."""
    t = translate(seed_request(), now=NOW)
    assert t.body["bidiGenerateContentSetup"] == {
        "model": f"models/{MODEL}",
        "generationConfig": {"responseModalities": ["AUDIO"], "temperature": 0.7},
        "sessionResumption": {},
    }
    assert "fieldMask" not in t.body
    assert t.lock_all
    assert t.field_paths == ()


def test_set_fields_lock_masks_exactly_the_set_fields() -> None:
    """LOCK_MODE_SET_FIELDS: mask = model + every set field, top-level paths only."""
    t = translate(seed_request(lock=ts.Lock(mode=ts.LOCK_MODE_SET_FIELDS)), now=NOW)
    assert t.body["fieldMask"] == (
        "model,generationConfig.responseModalities,generationConfig.temperature,sessionResumption"
    )
    assert not t.lock_all


def test_additional_fields_are_appended_once_in_enum_order() -> None:
    """Extra locks inside and outside generationConfig; duplicates and set ones appear once."""
    t = translate(
        seed_request(
            lock=ts.Lock(
                mode=ts.LOCK_MODE_SET_FIELDS,
                additional_fields=[
                    ts.LOCKABLE_FIELD_OUTPUT_AUDIO_TRANSCRIPTION,
                    ts.LOCKABLE_FIELD_TOP_K,
                    ts.LOCKABLE_FIELD_TEMPERATURE,
                    ts.LOCKABLE_FIELD_TOP_K,
                ],
            )
        ),
        now=NOW,
    )
    assert t.field_paths == (
        "model",
        "generationConfig.responseModalities",
        "generationConfig.temperature",
        "sessionResumption",
        "generationConfig.topK",
        "outputAudioTranscription",
    )


def test_extra_locks_without_constraints_send_only_a_mask() -> None:
    """No constraints + extra locks: no setup, the mask forces those fields to defaults."""
    request = ts.TokenRequest(
        lock=ts.Lock(
            mode=ts.LOCK_MODE_SET_FIELDS,
            additional_fields=[ts.LOCKABLE_FIELD_OUTPUT_AUDIO_TRANSCRIPTION],
        )
    )
    body = translate(request, now=NOW).body
    assert "bidiGenerateContentSetup" not in body
    assert body["fieldMask"] == "outputAudioTranscription"


def test_every_field_lands_where_the_sdks_put_it() -> None:
    """Sampling/speech/thinking go inside generationConfig; the rest at the setup's top;
    function declarations merged into one last tool, as the SDKs' t_tools does."""
    config = lc.LiveConfig(
        response_modalities=[lc.MODALITY_TEXT],
        temperature=0.2,
        top_p=0.95,
        top_k=40,
        max_output_tokens=1024,
        seed=7,
        media_resolution=lc.MEDIA_RESOLUTION_LOW,
        speech_config=lc.SpeechConfig(voice_name="Kore", language_code="en-US"),
        thinking_config=lc.ThinkingConfig(
            include_thoughts=True, thinking_budget=0, thinking_level=lc.THINKING_LEVEL_LOW
        ),
        enable_affective_dialog=False,
        translation_config=lc.TranslationConfig(
            target_language_code="es-ES", echo_target_language=True
        ),
        system_instruction=lc.Content(parts=[lc.Part(text="Be brief."), lc.Part(text="Kind.")]),
        tools=[
            lc.Tool(
                function_declarations=[
                    lc.FunctionDeclaration(
                        name="get_weather",
                        description="Weather for a city",
                        parameters=lc.Schema(
                            type=lc.SCHEMA_TYPE_OBJECT,
                            properties={
                                "city": lc.Schema(type=lc.SCHEMA_TYPE_STRING),
                                "days": lc.Schema(
                                    type=lc.SCHEMA_TYPE_ARRAY,
                                    items=lc.Schema(type=lc.SCHEMA_TYPE_INTEGER, format="int32"),
                                ),
                            },
                            required=["city"],
                        ),
                        behavior=lc.FUNCTION_BEHAVIOR_NON_BLOCKING,
                    )
                ]
            ),
            lc.Tool(google_search=lc.GoogleSearch(), code_execution=lc.CodeExecution()),
            lc.Tool(url_context=lc.UrlContext()),
        ],
        session_resumption=lc.SessionResumptionConfig(handle="h-1"),
        input_audio_transcription=lc.AudioTranscriptionConfig(),
        output_audio_transcription=lc.AudioTranscriptionConfig(),
        realtime_input_config=lc.RealtimeInputConfig(
            automatic_activity_detection=lc.AutomaticActivityDetection(
                disabled=False,
                start_of_speech_sensitivity=lc.START_SENSITIVITY_LOW,
                end_of_speech_sensitivity=lc.END_SENSITIVITY_HIGH,
                prefix_padding_ms=20,
                silence_duration_ms=100,
            ),
            activity_handling=lc.ACTIVITY_HANDLING_NO_INTERRUPTION,
            turn_coverage=lc.TURN_COVERAGE_TURN_INCLUDES_ALL_INPUT,
        ),
        context_window_compression=lc.ContextWindowCompressionConfig(
            trigger_tokens=25600, sliding_window=lc.SlidingWindow(target_tokens=12800)
        ),
        proactivity=lc.ProactivityConfig(proactive_audio=True),
        history_config=lc.HistoryConfig(initial_history_in_client_content=True),
    )
    request = ts.TokenRequest(
        constraints=ts.LiveConstraints(model=f"models/{MODEL}", config=config),
        lock=ts.Lock(mode=ts.LOCK_MODE_SET_FIELDS),
    )
    t = translate(request, now=NOW)
    assert t.body["bidiGenerateContentSetup"] == {
        "model": f"models/{MODEL}",
        "generationConfig": {
            "responseModalities": ["TEXT"],
            "temperature": 0.2,
            "topP": 0.95,
            "topK": 40,
            "maxOutputTokens": 1024,
            "seed": 7,
            "mediaResolution": "MEDIA_RESOLUTION_LOW",
            "speechConfig": {
                "voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Kore"}},
                "languageCode": "en-US",
            },
            "thinkingConfig": {
                "includeThoughts": True,
                "thinkingBudget": 0,
                "thinkingLevel": "LOW",
            },
            "enableAffectiveDialog": False,
            "translationConfig": {"targetLanguageCode": "es-ES", "echoTargetLanguage": True},
        },
        "systemInstruction": {"parts": [{"text": "Be brief."}, {"text": "Kind."}], "role": "user"},
        "tools": [
            {"googleSearch": {}, "codeExecution": {}},
            {"urlContext": {}},
            {
                "functionDeclarations": [
                    {
                        "name": "get_weather",
                        "description": "Weather for a city",
                        "parameters": {
                            "type": "OBJECT",
                            "properties": {
                                "city": {"type": "STRING"},
                                "days": {
                                    "type": "ARRAY",
                                    "items": {"type": "INTEGER", "format": "int32"},
                                },
                            },
                            "required": ["city"],
                        },
                        "behavior": "NON_BLOCKING",
                    }
                ]
            },
        ],
        "sessionResumption": {"handle": "h-1"},
        "inputAudioTranscription": {},
        "outputAudioTranscription": {},
        "realtimeInputConfig": {
            "automaticActivityDetection": {
                "disabled": False,
                "startOfSpeechSensitivity": "START_SENSITIVITY_LOW",
                "endOfSpeechSensitivity": "END_SENSITIVITY_HIGH",
                "prefixPaddingMs": 20,
                "silenceDurationMs": 100,
            },
            "activityHandling": "NO_INTERRUPTION",
            "turnCoverage": "TURN_INCLUDES_ALL_INPUT",
        },
        "contextWindowCompression": {
            "triggerTokens": 25600,
            "slidingWindow": {"targetTokens": 12800},
        },
        "proactivity": {"proactiveAudio": True},
        "historyConfig": {"initialHistoryInClientContent": True},
    }
    paths = t.body["fieldMask"].split(",")
    assert len(paths) == len(set(paths)) == 21
    assert not any(segment.isdigit() for path in paths for segment in path.split("."))
    setup_keys = set(t.body["bidiGenerateContentSetup"]) - {"generationConfig"}
    generation_keys = {
        f"generationConfig.{k}" for k in t.body["bidiGenerateContentSetup"]["generationConfig"]
    }
    assert set(paths) == setup_keys | generation_keys


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("gemini-live-2.5-flash-preview", "models/gemini-live-2.5-flash-preview"),
        ("models/gemini-2.0-flash-live-001", "models/gemini-2.0-flash-live-001"),
        ("tunedModels/my-model", "tunedModels/my-model"),
    ],
)
def test_model_gets_the_models_prefix_unless_it_has_one(given: str, sent: str) -> None:
    """As the SDKs' t_model: add models/ unless models/ or tunedModels/ is there."""
    assert model_name(given) == sent


@pytest.mark.parametrize("value", [0.7, 0.1, 1.3, 0.95, 2.0, 0.0, 0.333])
def test_float32_values_are_sent_as_the_decimal_the_caller_wrote(value: float) -> None:
    """A float field read back from the wire (float32) is sent as its shortest decimal."""
    config = lc.LiveConfig(temperature=value)
    assert config.temperature != value or value in (2.0, 0.0)
    assert float32(config.temperature) == value


def test_rfc3339_is_utc_with_z_even_for_other_offsets() -> None:
    """Google wants an offset; we always send UTC Z (spec §2 timestamp formatting)."""
    instant = datetime(2030, 1, 1, 14, 0, tzinfo=UTC).astimezone()
    assert rfc3339(instant) == "2030-01-01T14:00:00.000Z"


@pytest.mark.parametrize(
    ("base", "version", "url"),
    [
        (
            "https://generativelanguage.googleapis.com",
            "v1alpha",
            "wss://generativelanguage.googleapis.com/ws/google.ai.generativelanguage.v1alpha."
            "GenerativeService.BidiGenerateContentConstrained",
        ),
        (
            "http://127.0.0.1:8089/",
            "v1beta",
            "ws://127.0.0.1:8089/ws/google.ai.generativelanguage.v1beta."
            "GenerativeService.BidiGenerateContentConstrained",
        ),
    ],
)
def test_websocket_url_matches_the_minting_version(base: str, version: str, url: str) -> None:
    """The token only works on the Constrained method of the version it was minted on."""
    assert websocket_url(base, version) == url


def test_function_declarations_from_several_tools_merge_into_one_last_tool() -> None:
    """Google wants one function tool: declarations are merged, built-in tools keep order."""
    config = lc.LiveConfig(
        tools=[
            lc.Tool(function_declarations=[lc.FunctionDeclaration(name="first")]),
            lc.Tool(google_search=lc.GoogleSearch()),
            lc.Tool(
                code_execution=lc.CodeExecution(),
                function_declarations=[lc.FunctionDeclaration(name="second")],
            ),
        ]
    )
    request = ts.TokenRequest(constraints=ts.LiveConstraints(model=MODEL, config=config))
    assert translate(request, now=NOW).body["bidiGenerateContentSetup"]["tools"] == [
        {"googleSearch": {}},
        {"codeExecution": {}},
        {"functionDeclarations": [{"name": "first"}, {"name": "second"}]},
    ]
