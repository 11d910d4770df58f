"""TokenRequest → Google's `AuthToken` REST body. Pure: no I/O, no clock, no randomness.

The body follows `shared/spec/gemini-auth-tokens.md` §2 and the recommendation at the
end of §4: a flat AuthToken, camelCase keys, RFC 3339 UTC ``Z`` timestamps, the model
with its ``models/`` prefix, sampling/speech/thinking fields inside
``generationConfig`` and the others at the top of ``bidiGenerateContentSetup``; the
``fieldMask`` holds only top-level setup paths and ``generationConfig.<field>`` paths,
never array indices, never duplicates, and always covers every field that is set, so
Google's "contains fields that are not specified in field_mask" cannot happen.

The request must already have passed :mod:`livetokens.server.validation`.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf.message import Message

from livetokens.v1 import live_config_pb2 as lc
from livetokens.v1 import token_service_pb2 as ts

DEFAULT_USES = 1
DEFAULT_LIFETIME = timedelta(minutes=30)
DEFAULT_NEW_SESSION_WINDOW = timedelta(minutes=1)
# Google: "must be less than 20 hours in the future" (spec §2).
MAX_LIFETIME = timedelta(hours=20)

JSON = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Translation:
    """The REST body and the facts about the token that livetokens reports back."""

    body: JSON
    uses: int
    expire_time: datetime
    new_session_expire_time: datetime
    model: str
    lock_all: bool
    field_paths: tuple[str, ...]


# --- scalars ---------------------------------------------------------------------------


def float32(value: float) -> float:
    """The shortest decimal that reads back as the same float32.

    Proto ``float`` fields hold float32, so 0.7 arrives as 0.699999988079071; Google
    (and the SDKs) should see 0.7.
    """
    packed = struct.pack("<f", value)
    for digits in range(1, 10):
        candidate = float(f"{value:.{digits}g}")
        if struct.pack("<f", candidate) == packed:
            return candidate
    return value


def rfc3339(instant: datetime) -> str:
    """UTC with a ``Z`` and millisecond precision, e.g. ``2030-01-01T12:30:00.000Z``."""
    # isoformat is C and about 5x faster than strftime; it ends in "+00:00" once in UTC.
    return instant.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def model_name(model: str) -> str:
    """The model with Google's resource prefix, as the SDKs' ``t_model`` does (spec §2.1)."""
    if model.startswith(("models/", "tunedModels/")):
        return model
    return f"models/{model}"


def _enum_name(enum_type: Any, value: int, strip_prefix: str = "") -> str:
    return str(enum_type.Name(value)).removeprefix(strip_prefix)


# --- LiveConfig fields -------------------------------------------------------------------


def _speech(m: lc.SpeechConfig) -> JSON:
    out: JSON = {}
    if m.voice_name:
        out["voiceConfig"] = {"prebuiltVoiceConfig": {"voiceName": m.voice_name}}
    if m.language_code:
        out["languageCode"] = m.language_code
    return out


def _thinking(m: lc.ThinkingConfig) -> JSON:
    out: JSON = {}
    if m.HasField("include_thoughts"):
        out["includeThoughts"] = m.include_thoughts
    if m.HasField("thinking_budget"):
        out["thinkingBudget"] = m.thinking_budget
    if m.thinking_level:
        out["thinkingLevel"] = _enum_name(lc.ThinkingLevel, m.thinking_level, "THINKING_LEVEL_")
    return out


def _translation(m: lc.TranslationConfig) -> JSON:
    out: JSON = {"targetLanguageCode": m.target_language_code}
    if m.HasField("echo_target_language"):
        out["echoTargetLanguage"] = m.echo_target_language
    return out


def _content(m: lc.Content) -> JSON:
    # The SDKs turn a system instruction into Content with role "user" (spec §2.1, [V]).
    return {"parts": [{"text": p.text} for p in m.parts], "role": "user"}


def _schema(m: lc.Schema) -> JSON:
    out: JSON = {"type": _enum_name(lc.SchemaType, m.type, "SCHEMA_TYPE_")}
    if m.description:
        out["description"] = m.description
    if m.properties:
        out["properties"] = {k: _schema(v) for k, v in sorted(m.properties.items())}
    if m.required:
        out["required"] = list(m.required)
    if m.HasField("items"):
        out["items"] = _schema(m.items)
    if m.enum_values:
        out["enum"] = list(m.enum_values)
    if m.HasField("nullable"):
        out["nullable"] = m.nullable
    if m.format:
        out["format"] = m.format
    return out


def _function(m: lc.FunctionDeclaration) -> JSON:
    out: JSON = {"name": m.name}
    if m.description:
        out["description"] = m.description
    if m.HasField("parameters"):
        out["parameters"] = _schema(m.parameters)
    if m.behavior:
        out["behavior"] = _enum_name(lc.FunctionBehavior, m.behavior, "FUNCTION_BEHAVIOR_")
    return out


def _tools(tools: Any) -> list[JSON]:
    """As the SDKs' ``t_tools``: every function declaration merged into one tool, placed
    after the other tools, which keep their order ("All functions should be merged into
    one tool")."""
    out: list[JSON] = []
    functions: list[JSON] = []
    for tool in tools:
        functions += [_function(f) for f in tool.function_declarations]
        rest = _builtin_tool(tool)
        if rest:
            out.append(rest)
    if functions:
        out.append({"functionDeclarations": functions})
    return out


def _builtin_tool(m: lc.Tool) -> JSON:
    out: JSON = {}
    if m.HasField("google_search"):
        out["googleSearch"] = {}
    if m.HasField("code_execution"):
        out["codeExecution"] = {}
    if m.HasField("url_context"):
        out["urlContext"] = {}
    return out


def _resumption(m: lc.SessionResumptionConfig) -> JSON:
    return {"handle": m.handle} if m.handle else {}


def _realtime(m: lc.RealtimeInputConfig) -> JSON:
    out: JSON = {}
    if m.HasField("automatic_activity_detection"):
        a = m.automatic_activity_detection
        aad: JSON = {}
        if a.HasField("disabled"):
            aad["disabled"] = a.disabled
        if a.start_of_speech_sensitivity:
            aad["startOfSpeechSensitivity"] = _enum_name(
                lc.StartSensitivity, a.start_of_speech_sensitivity
            )
        if a.end_of_speech_sensitivity:
            aad["endOfSpeechSensitivity"] = _enum_name(
                lc.EndSensitivity, a.end_of_speech_sensitivity
            )
        if a.HasField("prefix_padding_ms"):
            aad["prefixPaddingMs"] = a.prefix_padding_ms
        if a.HasField("silence_duration_ms"):
            aad["silenceDurationMs"] = a.silence_duration_ms
        out["automaticActivityDetection"] = aad
    if m.activity_handling:
        out["activityHandling"] = _enum_name(
            lc.ActivityHandling, m.activity_handling, "ACTIVITY_HANDLING_"
        )
    if m.turn_coverage:
        out["turnCoverage"] = _enum_name(lc.TurnCoverage, m.turn_coverage, "TURN_COVERAGE_")
    return out


def _compression(m: lc.ContextWindowCompressionConfig) -> JSON:
    out: JSON = {}
    if m.HasField("trigger_tokens"):
        out["triggerTokens"] = m.trigger_tokens
    if m.HasField("sliding_window"):
        window: JSON = {}
        if m.sliding_window.HasField("target_tokens"):
            window["targetTokens"] = m.sliding_window.target_tokens
        out["slidingWindow"] = window
    return out


def _proactivity(m: lc.ProactivityConfig) -> JSON:
    return {"proactiveAudio": m.proactive_audio} if m.HasField("proactive_audio") else {}


def _history(m: lc.HistoryConfig) -> JSON:
    if m.HasField("initial_history_in_client_content"):
        return {"initialHistoryInClientContent": m.initial_history_in_client_content}
    return {}


def _modalities(values: Any) -> list[str]:
    return [_enum_name(lc.Modality, v, "MODALITY_") for v in values]


def _media_resolution(value: int) -> str:
    return _enum_name(lc.MediaResolution, value)


def _same(value: Any) -> Any:
    return value


@dataclasses.dataclass(frozen=True)
class SetupField:
    """Where one LiveConfig field goes in Google's setup, and how it is converted."""

    json_name: str
    in_generation_config: bool
    convert: Callable[[Any], Any]

    @property
    def path(self) -> str:
        """Its Google ``fieldMask`` path."""
        if self.in_generation_config:
            return f"generationConfig.{self.json_name}"
        return self.json_name


# Every LiveConfig field, by proto name (spec §2.1 "Where each LiveConnectConfig field
# goes"). A descriptor test checks that this covers LiveConfig exactly.
SETUP_FIELDS: Mapping[str, SetupField] = {
    "response_modalities": SetupField("responseModalities", True, _modalities),
    "temperature": SetupField("temperature", True, float32),
    "top_p": SetupField("topP", True, float32),
    "top_k": SetupField("topK", True, _same),
    "max_output_tokens": SetupField("maxOutputTokens", True, _same),
    "seed": SetupField("seed", True, _same),
    "media_resolution": SetupField("mediaResolution", True, _media_resolution),
    "speech_config": SetupField("speechConfig", True, _speech),
    "thinking_config": SetupField("thinkingConfig", True, _thinking),
    "enable_affective_dialog": SetupField("enableAffectiveDialog", True, _same),
    "translation_config": SetupField("translationConfig", True, _translation),
    "system_instruction": SetupField("systemInstruction", False, _content),
    "tools": SetupField("tools", False, _tools),
    "session_resumption": SetupField("sessionResumption", False, _resumption),
    "input_audio_transcription": SetupField("inputAudioTranscription", False, lambda _: {}),
    "output_audio_transcription": SetupField("outputAudioTranscription", False, lambda _: {}),
    "realtime_input_config": SetupField("realtimeInputConfig", False, _realtime),
    "context_window_compression": SetupField("contextWindowCompression", False, _compression),
    "proactivity": SetupField("proactivity", False, _proactivity),
    "history_config": SetupField("historyConfig", False, _history),
}

# Every LockableField value → its one Google fieldMask path (the proto comments say the same).
LOCKABLE_PATHS: Mapping[int, str] = {
    ts.LOCKABLE_FIELD_RESPONSE_MODALITIES: SETUP_FIELDS["response_modalities"].path,
    ts.LOCKABLE_FIELD_TEMPERATURE: SETUP_FIELDS["temperature"].path,
    ts.LOCKABLE_FIELD_TOP_P: SETUP_FIELDS["top_p"].path,
    ts.LOCKABLE_FIELD_TOP_K: SETUP_FIELDS["top_k"].path,
    ts.LOCKABLE_FIELD_MAX_OUTPUT_TOKENS: SETUP_FIELDS["max_output_tokens"].path,
    ts.LOCKABLE_FIELD_SEED: SETUP_FIELDS["seed"].path,
    ts.LOCKABLE_FIELD_MEDIA_RESOLUTION: SETUP_FIELDS["media_resolution"].path,
    ts.LOCKABLE_FIELD_SPEECH_CONFIG: SETUP_FIELDS["speech_config"].path,
    ts.LOCKABLE_FIELD_THINKING_CONFIG: SETUP_FIELDS["thinking_config"].path,
    ts.LOCKABLE_FIELD_ENABLE_AFFECTIVE_DIALOG: SETUP_FIELDS["enable_affective_dialog"].path,
    ts.LOCKABLE_FIELD_TRANSLATION_CONFIG: SETUP_FIELDS["translation_config"].path,
    ts.LOCKABLE_FIELD_SYSTEM_INSTRUCTION: SETUP_FIELDS["system_instruction"].path,
    ts.LOCKABLE_FIELD_TOOLS: SETUP_FIELDS["tools"].path,
    ts.LOCKABLE_FIELD_SESSION_RESUMPTION: SETUP_FIELDS["session_resumption"].path,
    ts.LOCKABLE_FIELD_INPUT_AUDIO_TRANSCRIPTION: SETUP_FIELDS["input_audio_transcription"].path,
    ts.LOCKABLE_FIELD_OUTPUT_AUDIO_TRANSCRIPTION: SETUP_FIELDS["output_audio_transcription"].path,
    ts.LOCKABLE_FIELD_REALTIME_INPUT_CONFIG: SETUP_FIELDS["realtime_input_config"].path,
    ts.LOCKABLE_FIELD_CONTEXT_WINDOW_COMPRESSION: SETUP_FIELDS["context_window_compression"].path,
    ts.LOCKABLE_FIELD_PROACTIVITY: SETUP_FIELDS["proactivity"].path,
    ts.LOCKABLE_FIELD_HISTORY_CONFIG: SETUP_FIELDS["history_config"].path,
}


# LiveConfig field names in field-number order: the order of the reported paths.
LIVE_CONFIG_FIELDS: tuple[str, ...] = tuple(
    lc.LiveConfig.DESCRIPTOR.fields_by_number[number].name
    for number in sorted(lc.LiveConfig.DESCRIPTOR.fields_by_number)
)


def _is_set(message: Message, name: str) -> bool:
    field = message.DESCRIPTOR.fields_by_name[name]
    if field.is_repeated:
        return len(getattr(message, name)) > 0
    if field.has_presence:
        return message.HasField(name)
    return bool(getattr(message, name))  # enums without presence: 0 means unset


def build_setup(constraints: ts.LiveConstraints) -> tuple[JSON, list[str]]:
    """The ``bidiGenerateContentSetup`` object and the paths of the fields it sets.

    Paths come in a stable order: ``model``, then LiveConfig fields by field number
    (generationConfig fields are numbered before the top-level ones).
    """
    setup: JSON = {"model": model_name(constraints.model)}
    paths = ["model"]
    generation: JSON = {}
    # ListFields: the set fields (as _is_set means it) in field-number order, in one
    # call, instead of a descriptor lookup and a presence check for each of the 20.
    for field, value in constraints.config.ListFields():
        spec = SETUP_FIELDS[field.name]
        (generation if spec.in_generation_config else setup)[spec.json_name] = spec.convert(value)
        paths.append(spec.path)
    if generation:
        # generationConfig goes right after model, as the SDKs emit it.
        setup = {"model": setup.pop("model"), "generationConfig": generation, **setup}
    return setup, paths


def effective_spans(request: ts.TokenRequest) -> tuple[timedelta, timedelta]:
    """Lifetime and new-session window, defaults applied, in whole milliseconds."""
    lifetime = (
        _millis(request.lifetime.ToTimedelta())
        if request.HasField("lifetime")
        else DEFAULT_LIFETIME
    )
    if request.HasField("new_session_window"):
        window = _millis(request.new_session_window.ToTimedelta())
    else:
        window = min(DEFAULT_NEW_SESSION_WINDOW, lifetime)
    return lifetime, window


def _millis(span: timedelta) -> timedelta:
    return timedelta(milliseconds=span // timedelta(milliseconds=1))


def translate(request: ts.TokenRequest, *, now: datetime) -> Translation:
    """The AuthToken body for a valid TokenRequest minted at ``now`` (UTC, aware)."""
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)
    uses = request.uses if request.HasField("uses") else DEFAULT_USES
    lifetime, window = effective_spans(request)
    expire_time, new_session_expire_time = now + lifetime, now + window
    body: JSON = {
        "uses": uses,
        "expireTime": rfc3339(expire_time),
        "newSessionExpireTime": rfc3339(new_session_expire_time),
    }
    mode = request.lock.mode
    extra = [LOCKABLE_PATHS[f] for f in sorted(set(request.lock.additional_fields))]
    model = ""
    lock_all = False
    paths: list[str] = []
    if request.HasField("constraints"):
        setup, set_paths = build_setup(request.constraints)
        body["bidiGenerateContentSetup"] = setup
        model = setup["model"]
        if mode in (ts.LOCK_MODE_UNSPECIFIED, ts.LOCK_MODE_ALL):
            # Full lock: no fieldMask at all (spec §3.1 rule 2).
            lock_all = True
        else:
            paths = set_paths + [p for p in extra if p not in set_paths]
    else:
        # No setup: extra locks force those fields to their defaults (spec §4.4 ex. 5).
        paths = extra
    if paths:
        body["fieldMask"] = ",".join(paths)
    return Translation(
        body=body,
        uses=uses,
        expire_time=expire_time,
        new_session_expire_time=new_session_expire_time,
        model=model,
        lock_all=lock_all,
        field_paths=tuple(paths),
    )


def websocket_url(base_url: str, api_version: str) -> str:
    """The Live WebSocket URL that accepts tokens minted on ``api_version`` (spec §6)."""
    scheme, sep, rest = base_url.rstrip("/").partition("://")
    ws_scheme = {"https": "wss", "http": "ws"}.get(scheme, scheme) if sep else "wss"
    host = rest if sep else scheme
    return (
        f"{ws_scheme}://{host}/ws/google.ai.generativelanguage.{api_version}."
        "GenerativeService.BidiGenerateContentConstrained"
    )
