"""The documented rules of a TokenRequest, checked all at once.

:func:`validate` returns every violation (AIP-193 field paths), never just the
first; the caller turns a non-empty list into INVALID_ARGUMENT / INVALID_REQUEST.
The rules are the ones the proto comments promise callers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from google.protobuf import unknown_fields
from google.protobuf.message import Message

from livetokens.server.errors import FieldViolation
from livetokens.server.translate import DEFAULT_LIFETIME, MAX_LIFETIME
from livetokens.v1 import live_config_pb2 as lc
from livetokens.v1 import token_service_pb2 as ts

MODEL_ID = re.compile(r"^(models/|tunedModels/)?[A-Za-z0-9][A-Za-z0-9._-]{0,255}$")
FUNCTION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
LANGUAGE_CODE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", re.I)
MAX_TOOLS = 128
MAX_SCHEMA_DEPTH = 16
MAX_TEXT = 100_000
MAX_HANDLE = 4096
# google.protobuf.Duration's own range (about 10,000 years); timedelta cannot hold more.
MAX_DURATION_SECONDS = 315_576_000_000
# Unknown field numbers named in a violation, at most.
MAX_UNKNOWN_NAMED = 16


def _echo(value: str) -> str:
    """``value`` quoted for a violation, cut so an oversized value is not echoed back."""
    return repr(value if len(value) <= 64 else value[:64] + "…")


class _Checker:
    def __init__(self) -> None:
        self.violations: list[FieldViolation] = []

    def add(self, field: str, description: str) -> None:
        self.violations.append(FieldViolation(field, description))

    def enum(self, field: str, enum_type: Any, value: int, *, allow_unspecified: bool) -> None:
        if value not in enum_type.DESCRIPTOR.values_by_number:
            self.add(field, f"unknown value {value} (sent by a newer client?)")
        elif value == 0 and not allow_unspecified:
            self.add(field, f"must not be {enum_type.Name(0)}")

    def range(
        self,
        field: str,
        value: float,
        *,
        low: float | None = None,
        high: float | None = None,
    ) -> None:
        if isinstance(value, float) and math.isnan(value):
            self.add(field, "must be a number, not NaN")
        elif low is not None and high is not None and not low <= value <= high:
            self.add(field, f"must be between {low:g} and {high:g}, got {value:g}")
        elif low is not None and value < low:
            self.add(field, f"must be {low:g} or more, got {value:g}")

    def span(self, field: str, message: Any) -> timedelta | None:
        seconds, nanos = message.seconds, message.nanos
        if not -999_999_999 <= nanos <= 999_999_999 or (seconds > 0 > nanos or seconds < 0 < nanos):
            self.add(field, "is not a valid google.protobuf.Duration")
            return None
        if abs(seconds) > MAX_DURATION_SECONDS:
            self.add(field, "is outside google.protobuf.Duration's range")
            return None
        span: timedelta = message.ToTimedelta()
        if span < timedelta(milliseconds=1):
            self.add(field, "must be at least 1ms (times are whole milliseconds)")
            return None
        if span >= MAX_LIFETIME:
            self.add(field, "must be less than 20h (Google's limit for token times)")
            return None
        return span


def validate(request: ts.TokenRequest) -> list[FieldViolation]:
    """Every rule the request breaks, in field order; empty when it is valid."""
    c = _Checker()
    _unknown_fields(c, request, "")
    if request.HasField("uses"):
        c.range("uses", request.uses, low=0)
    lifetime = DEFAULT_LIFETIME
    if request.HasField("lifetime"):
        lifetime = c.span("lifetime", request.lifetime) or lifetime
    if request.HasField("new_session_window"):
        window = c.span("new_session_window", request.new_session_window)
        if window is not None and window > lifetime:
            c.add("new_session_window", "must not be longer than lifetime")
    if request.HasField("constraints"):
        _constraints(c, request.constraints)
    _lock(c, request)
    if request.request_id and not UUID4.match(request.request_id):
        c.add(
            "request_id",
            "must be a UUID4 in canonical form, e.g. 6f1c8a52-4a8e-4d0b-9a55-0b0c3a8f4f1e",
        )
    return c.violations


def _unknown_fields(c: _Checker, message: Message, path: str) -> None:
    """Fields a newer client sent that this server does not know are refused, not ignored:
    ignoring one could mint a token wider than the caller asked for."""
    unknown = unknown_fields.UnknownFieldSet(message)
    if len(unknown):
        numbers = sorted(
            {unknown[i].field_number for i in range(min(len(unknown), MAX_UNKNOWN_NAMED))}
        )
        c.add(path or "(request)", f"has fields unknown to this server: numbers {numbers}")
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        child = f"{path}.{field.name}" if path else field.name
        if field.message_type.GetOptions().map_entry:
            for key, item in value.items():
                if isinstance(item, Message):
                    _unknown_fields(c, item, f"{child}[{_echo(str(key))}]")
        elif field.is_repeated:
            for i, item in enumerate(value):
                _unknown_fields(c, item, f"{child}[{i}]")
        else:
            _unknown_fields(c, value, child)


def _constraints(c: _Checker, m: ts.LiveConstraints) -> None:
    if not m.model:
        c.add("constraints.model", "is required when constraints are set")
    elif not MODEL_ID.match(m.model):
        c.add(
            "constraints.model",
            "must be a model id such as gemini-live-2.5-flash-preview, optionally with "
            "models/ or tunedModels/, at most 256 characters, no spaces",
        )
    if m.HasField("config"):
        _config(c, m.config, "constraints.config")


def _config(c: _Checker, m: lc.LiveConfig, p: str) -> None:
    seen: set[int] = set()
    for i, modality in enumerate(m.response_modalities):
        c.enum(f"{p}.response_modalities[{i}]", lc.Modality, modality, allow_unspecified=False)
        if modality in seen:
            c.add(f"{p}.response_modalities[{i}]", "is a duplicate")
        seen.add(modality)
    if m.HasField("temperature"):
        c.range(f"{p}.temperature", m.temperature, low=0.0, high=2.0)
    if m.HasField("top_p"):
        c.range(f"{p}.top_p", m.top_p, low=0.0, high=1.0)
    if m.HasField("top_k"):
        c.range(f"{p}.top_k", m.top_k, low=1)
    if m.HasField("max_output_tokens"):
        c.range(f"{p}.max_output_tokens", m.max_output_tokens, low=1)
    c.enum(f"{p}.media_resolution", lc.MediaResolution, m.media_resolution, allow_unspecified=True)
    if m.HasField("speech_config") and m.speech_config.language_code:
        _language(c, f"{p}.speech_config.language_code", m.speech_config.language_code)
    if m.HasField("thinking_config"):
        t = m.thinking_config
        if t.HasField("thinking_budget"):
            c.range(f"{p}.thinking_config.thinking_budget", t.thinking_budget, low=-1)
        c.enum(
            f"{p}.thinking_config.thinking_level",
            lc.ThinkingLevel,
            t.thinking_level,
            allow_unspecified=True,
        )
    if m.HasField("translation_config"):
        code = m.translation_config.target_language_code
        field = f"{p}.translation_config.target_language_code"
        if not code:
            c.add(field, "is required when translation_config is set")
        else:
            _language(c, field, code)
    if m.HasField("system_instruction"):
        _content(c, m.system_instruction, f"{p}.system_instruction")
    _tools(c, m.tools, f"{p}.tools")
    if len(m.session_resumption.handle) > MAX_HANDLE:
        c.add(f"{p}.session_resumption.handle", f"must be at most {MAX_HANDLE} characters")
    if m.HasField("realtime_input_config"):
        _realtime(c, m.realtime_input_config, f"{p}.realtime_input_config")
    if m.HasField("context_window_compression"):
        w = m.context_window_compression
        if w.HasField("trigger_tokens"):
            c.range(f"{p}.context_window_compression.trigger_tokens", w.trigger_tokens, low=1)
        if w.sliding_window.HasField("target_tokens"):
            c.range(
                f"{p}.context_window_compression.sliding_window.target_tokens",
                w.sliding_window.target_tokens,
                low=0,
            )


def _language(c: _Checker, field: str, code: str) -> None:
    if not LANGUAGE_CODE.match(code):
        c.add(field, f"must be a BCP-47 language code such as en-US, got {_echo(code)}")


def _content(c: _Checker, m: lc.Content, p: str) -> None:
    if not m.parts:
        c.add(f"{p}.parts", "needs at least one part")
    total = 0
    for i, part in enumerate(m.parts):
        if part.WhichOneof("data") is None or not part.text:
            c.add(f"{p}.parts[{i}].text", "must be non-empty text")
        total += len(part.text)
    if total > MAX_TEXT:
        c.add(f"{p}.parts", f"must hold at most {MAX_TEXT} characters in all")


def _tools(c: _Checker, tools: Iterable[lc.Tool], p: str) -> None:
    names: set[str] = set()
    tools = list(tools)
    if len(tools) > MAX_TOOLS:
        c.add(p, f"must hold at most {MAX_TOOLS} tools")
    for i, tool in enumerate(tools):
        tp = f"{p}[{i}]"
        if not tool.ListFields():
            c.add(
                tp,
                "must set at least one of function_declarations, google_search, "
                "code_execution, url_context",
            )
        for j, fn in enumerate(tool.function_declarations):
            fp = f"{tp}.function_declarations[{j}]"
            if not FUNCTION_NAME.match(fn.name):
                c.add(
                    f"{fp}.name",
                    "must start with a letter or _, then letters, digits, _ . -; "
                    "at most 64 characters",
                )
            elif fn.name in names:
                c.add(f"{fp}.name", f"duplicates the function name {_echo(fn.name)}")
            names.add(fn.name)
            c.enum(f"{fp}.behavior", lc.FunctionBehavior, fn.behavior, allow_unspecified=True)
            if fn.HasField("parameters"):
                _schema(c, fn.parameters, f"{fp}.parameters", 1)


def _schema(c: _Checker, s: lc.Schema, p: str, depth: int) -> None:
    if depth > MAX_SCHEMA_DEPTH:
        c.add(p, f"nests deeper than {MAX_SCHEMA_DEPTH} levels")
        return
    c.enum(f"{p}.type", lc.SchemaType, s.type, allow_unspecified=False)
    for name in s.required:
        if name not in s.properties:
            c.add(f"{p}.required", f"names {_echo(name)}, which is not in properties")
    if s.properties and s.type != lc.SCHEMA_TYPE_OBJECT:
        c.add(f"{p}.properties", "is only for type SCHEMA_TYPE_OBJECT")
    if s.type == lc.SCHEMA_TYPE_ARRAY and not s.HasField("items"):
        c.add(f"{p}.items", "is required for type SCHEMA_TYPE_ARRAY")
    if s.enum_values and s.type != lc.SCHEMA_TYPE_STRING:
        c.add(f"{p}.enum_values", "is only for type SCHEMA_TYPE_STRING")
    for key, sub in sorted(s.properties.items()):
        _schema(c, sub, f"{p}.properties[{_echo(key)}]", depth + 1)
    if s.HasField("items"):
        _schema(c, s.items, f"{p}.items", depth + 1)


def _realtime(c: _Checker, m: lc.RealtimeInputConfig, p: str) -> None:
    if m.HasField("automatic_activity_detection"):
        a = m.automatic_activity_detection
        ap = f"{p}.automatic_activity_detection"
        c.enum(
            f"{ap}.start_of_speech_sensitivity",
            lc.StartSensitivity,
            a.start_of_speech_sensitivity,
            allow_unspecified=True,
        )
        c.enum(
            f"{ap}.end_of_speech_sensitivity",
            lc.EndSensitivity,
            a.end_of_speech_sensitivity,
            allow_unspecified=True,
        )
        if a.HasField("prefix_padding_ms"):
            c.range(f"{ap}.prefix_padding_ms", a.prefix_padding_ms, low=0)
        if a.HasField("silence_duration_ms"):
            c.range(f"{ap}.silence_duration_ms", a.silence_duration_ms, low=0)
    c.enum(
        f"{p}.activity_handling", lc.ActivityHandling, m.activity_handling, allow_unspecified=True
    )
    c.enum(f"{p}.turn_coverage", lc.TurnCoverage, m.turn_coverage, allow_unspecified=True)


def _lock(c: _Checker, request: ts.TokenRequest) -> None:
    lock = request.lock
    c.enum("lock.mode", ts.LockMode, lock.mode, allow_unspecified=True)
    for i, value in enumerate(lock.additional_fields):
        c.enum(f"lock.additional_fields[{i}]", ts.LockableField, value, allow_unspecified=False)
    if lock.additional_fields and lock.mode != ts.LOCK_MODE_SET_FIELDS:
        c.add("lock.additional_fields", "needs lock.mode LOCK_MODE_SET_FIELDS")
    if not request.HasField("constraints") and lock.mode == ts.LOCK_MODE_ALL:
        c.add(
            "lock.mode", "LOCK_MODE_ALL needs constraints; without them the token is unconstrained"
        )
