"""The field names the emulator knows, in both proto3 JSON spellings (spec §2, §2.1, §4.1).

Proto3 JSON parsing accepts a field's lowerCamelCase JSON name and its original
snake_case proto name. The Python SDK relies on that (it sends snake_case keys inside
some nested objects), so every table here answers both spellings and maps them to one
canonical camelCase name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from functools import cached_property
from types import MappingProxyType


def snake_to_camel(name: str) -> str:
    """``new_session_expire_time`` → ``newSessionExpireTime`` (proto3 JSON name rule)."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


class Kind(Enum):
    """What JSON shape a known field must have; ANY skips the type check."""

    ANY = "any"
    STRING = "TYPE_STRING"
    INT32 = "TYPE_INT32"
    TIMESTAMP = "type.googleapis.com/google.protobuf.Timestamp"
    FIELD_MASK = "type.googleapis.com/google.protobuf.FieldMask"
    MESSAGE = "message"
    REPEATED_MESSAGE = "repeated message"
    MAP = "map"


@dataclass(frozen=True)
class Field:
    """One known field: its proto name, JSON name, shape, and message type for errors."""

    proto_name: str
    kind: Kind
    type_name: str = ""  # e.g. "GenerationConfig", used in "Invalid value" messages

    @property
    def json_name(self) -> str:
        """The lowerCamelCase JSON name, the canonical spelling the emulator stores."""
        return snake_to_camel(self.proto_name)


@dataclass(frozen=True)
class Message:
    """A message whose field names the emulator checks: unknown names are rejected."""

    path: str  # the proto path used in Google's messages, e.g. "auth_token"
    fields: tuple[Field, ...]

    @cached_property
    def lookup(self) -> Mapping[str, Field]:
        """Both spellings of every field name → the field."""
        table: dict[str, Field] = {}
        for f in self.fields:
            table[f.proto_name] = f
            table[f.json_name] = f
        return MappingProxyType(table)


# GenerationConfig, the full Python-SDK field list (spec §4.1). Fields that the Live API
# does not support (responseMimeType, responseSchema, …; spec §2.1) are still *known*
# names, so Google's JSON parser would accept them; the emulator does the same. [U]
# Whether the real server rejects them later with a semantic error is not known.
GENERATION_CONFIG_FIELDS: tuple[str, ...] = (
    "model_selection_config",
    "response_json_schema",
    "audio_timestamp",
    "candidate_count",
    "enable_affective_dialog",
    "frequency_penalty",
    "logprobs",
    "max_output_tokens",
    "media_resolution",
    "presence_penalty",
    "response_logprobs",
    "response_mime_type",
    "response_modalities",
    "response_schema",
    "routing_config",
    "seed",
    "speech_config",
    "stop_sequences",
    "temperature",
    "thinking_config",
    "top_k",
    "top_p",
    "enable_enhanced_civic_answers",
    "response_format",
    "translation_config",
    "audio_transcription_config",
)

GENERATION_CONFIG = Message(
    path="auth_token.bidi_generate_content_setup.generation_config",
    # Values inside GenerationConfig are not type-checked: the emulator checks names
    # at this depth, not the shape of every nested value. [U]
    fields=tuple(Field(name, Kind.ANY) for name in GENERATION_CONFIG_FIELDS),
)

# BidiGenerateContentSetup, top level (spec §2.1). `explicit_vad_signal` is left out on
# purpose: the SDK refuses it for the Gemini API (mldev) and never sends it, so the
# emulator treats it as an unknown name. [U]
SETUP = Message(
    path="auth_token.bidi_generate_content_setup",
    fields=(
        Field("model", Kind.STRING),
        Field("generation_config", Kind.MESSAGE, "GenerationConfig"),
        Field("system_instruction", Kind.MESSAGE, "Content"),
        Field("tools", Kind.REPEATED_MESSAGE, "Tool"),
        Field("realtime_input_config", Kind.MESSAGE, "RealtimeInputConfig"),
        Field("session_resumption", Kind.MESSAGE, "SessionResumptionConfig"),
        Field("context_window_compression", Kind.MESSAGE, "ContextWindowCompressionConfig"),
        Field("input_audio_transcription", Kind.MESSAGE, "AudioTranscriptionConfig"),
        Field("output_audio_transcription", Kind.MESSAGE, "AudioTranscriptionConfig"),
        Field("proactivity", Kind.MESSAGE, "ProactivityConfig"),
        Field("history_config", Kind.MESSAGE, "HistoryConfig"),
        # Sent by the Python SDK but absent from the 2026-06 Live reference (spec §2.1). [U]
        Field("avatar_config", Kind.MESSAGE, "AvatarConfig"),
        Field("safety_settings", Kind.REPEATED_MESSAGE, "SafetySetting"),
        Field("labels", Kind.MAP),
    ),
)

# liveConnectConstraints, only when the emulator is configured to accept it (spec §2). [U]
LIVE_CONNECT_CONSTRAINTS = Message(
    path="auth_token.live_connect_constraints",
    fields=(
        Field("model", Kind.STRING),
        # A LiveConnectConfig-shaped object; its inner names are not checked. [U]
        Field("config", Kind.MESSAGE, "LiveConnectConfig"),
    ),
)

NAME = Field("name", Kind.STRING)
USES = Field("uses", Kind.INT32)
EXPIRE_TIME = Field("expire_time", Kind.TIMESTAMP)
NEW_SESSION_EXPIRE_TIME = Field("new_session_expire_time", Kind.TIMESTAMP)
SETUP_FIELD = Field("bidi_generate_content_setup", Kind.MESSAGE, "BidiGenerateContentSetup")
FIELD_MASK = Field("field_mask", Kind.FIELD_MASK)
LCC_FIELD = Field("live_connect_constraints", Kind.MESSAGE, "LiveConnectConstraints")

_AUTH_TOKEN_BASE = (NAME, USES, EXPIRE_TIME, NEW_SESSION_EXPIRE_TIME, SETUP_FIELD, FIELD_MASK)
AUTH_TOKEN = Message(path="auth_token", fields=_AUTH_TOKEN_BASE)
AUTH_TOKEN_WITH_LCC = Message(path="auth_token", fields=(*_AUTH_TOKEN_BASE, LCC_FIELD))
