"""The documented request rules: each violation names its field, all come at once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from livetokens.server.validation import validate
from livetokens.v1 import live_config_pb2 as lc
from livetokens.v1 import token_service_pb2 as ts


def valid() -> ts.TokenRequest:
    request = ts.TokenRequest(
        constraints=ts.LiveConstraints(model="gemini-live-2.5-flash-preview"),
        request_id="6f1c8a52-4a8e-4d0b-9a55-0b0c3a8f4f1e",
    )
    request.constraints.config.temperature = 0.7
    return request


def span(field: object, td: timedelta) -> None:
    field.FromTimedelta(td)  # type: ignore[attr-defined]


def _schema_without_type(r: ts.TokenRequest) -> None:
    r.constraints.config.tools.add().function_declarations.add(
        name="f", parameters=lc.Schema(properties={"a": lc.Schema()}, type=lc.SCHEMA_TYPE_OBJECT)
    )


Mutation = Callable[[ts.TokenRequest], object]
CASES: list[tuple[str, Mutation, str]] = [
    ("negative uses", lambda r: setattr(r, "uses", -1), "uses"),
    ("zero lifetime", lambda r: span(r.lifetime, timedelta(0)), "lifetime"),
    ("negative lifetime", lambda r: span(r.lifetime, timedelta(seconds=-5)), "lifetime"),
    ("20 h lifetime", lambda r: span(r.lifetime, timedelta(hours=20)), "lifetime"),
    (
        "bad duration",
        lambda r: setattr(r.lifetime, "nanos", -5) or setattr(r.lifetime, "seconds", 5),
        "lifetime",
    ),
    ("zero window", lambda r: span(r.new_session_window, timedelta(0)), "new_session_window"),
    (
        "window > default lifetime",
        lambda r: span(r.new_session_window, timedelta(minutes=31)),
        "new_session_window",
    ),
    ("empty model", lambda r: setattr(r.constraints, "model", ""), "constraints.model"),
    (
        "model with space",
        lambda r: setattr(r.constraints, "model", "gemini live"),
        "constraints.model",
    ),
    ("prefix only", lambda r: setattr(r.constraints, "model", "models/"), "constraints.model"),
    (
        "unspecified modality",
        lambda r: r.constraints.config.response_modalities.append(0),
        "constraints.config.response_modalities[0]",
    ),
    (
        "unknown modality",
        lambda r: r.constraints.config.response_modalities.append(99),
        "constraints.config.response_modalities[0]",
    ),
    (
        "duplicate modality",
        lambda r: r.constraints.config.response_modalities.extend([1, 1]),
        "constraints.config.response_modalities[1]",
    ),
    (
        "temperature high",
        lambda r: setattr(r.constraints.config, "temperature", 2.5),
        "constraints.config.temperature",
    ),
    (
        "temperature nan",
        lambda r: setattr(r.constraints.config, "temperature", float("nan")),
        "constraints.config.temperature",
    ),
    (
        "top_p high",
        lambda r: setattr(r.constraints.config, "top_p", 1.5),
        "constraints.config.top_p",
    ),
    ("top_k zero", lambda r: setattr(r.constraints.config, "top_k", 0), "constraints.config.top_k"),
    (
        "max tokens zero",
        lambda r: setattr(r.constraints.config, "max_output_tokens", 0),
        "constraints.config.max_output_tokens",
    ),
    (
        "unknown media resolution",
        lambda r: setattr(r.constraints.config, "media_resolution", 42),
        "constraints.config.media_resolution",
    ),
    (
        "bad language",
        lambda r: setattr(r.constraints.config.speech_config, "language_code", "english please"),
        "constraints.config.speech_config.language_code",
    ),
    (
        "thinking budget",
        lambda r: setattr(r.constraints.config.thinking_config, "thinking_budget", -2),
        "constraints.config.thinking_config.thinking_budget",
    ),
    (
        "translation without target",
        lambda r: r.constraints.config.translation_config.SetInParent(),
        "constraints.config.translation_config.target_language_code",
    ),
    (
        "empty system instruction",
        lambda r: r.constraints.config.system_instruction.SetInParent(),
        "constraints.config.system_instruction.parts",
    ),
    (
        "empty part",
        lambda r: r.constraints.config.system_instruction.parts.add(),
        "constraints.config.system_instruction.parts[0].text",
    ),
    ("empty tool", lambda r: r.constraints.config.tools.add(), "constraints.config.tools[0]"),
    (
        "bad function name",
        lambda r: r.constraints.config.tools.add().function_declarations.add(name="1bad"),
        "constraints.config.tools[0].function_declarations[0].name",
    ),
    (
        "schema without type",
        _schema_without_type,
        "constraints.config.tools[0].function_declarations[0].parameters.properties['a'].type",
    ),
    (
        "negative padding",
        lambda r: setattr(
            r.constraints.config.realtime_input_config.automatic_activity_detection,
            "prefix_padding_ms",
            -1,
        ),
        "constraints.config.realtime_input_config.automatic_activity_detection.prefix_padding_ms",
    ),
    (
        "unknown turn coverage",
        lambda r: setattr(r.constraints.config.realtime_input_config, "turn_coverage", 9),
        "constraints.config.realtime_input_config.turn_coverage",
    ),
    (
        "trigger tokens",
        lambda r: setattr(r.constraints.config.context_window_compression, "trigger_tokens", 0),
        "constraints.config.context_window_compression.trigger_tokens",
    ),
    (
        "unspecified lock field",
        lambda r: (
            setattr(r.lock, "mode", ts.LOCK_MODE_SET_FIELDS),
            r.lock.additional_fields.append(0),
        ),
        "lock.additional_fields[0]",
    ),
    (
        "extra lock without set-fields",
        lambda r: r.lock.additional_fields.append(ts.LOCKABLE_FIELD_TOOLS),
        "lock.additional_fields",
    ),
    ("unknown lock mode", lambda r: setattr(r.lock, "mode", 7), "lock.mode"),
    ("request id not uuid4", lambda r: setattr(r, "request_id", "retry-1"), "request_id"),
]


def test_the_base_request_is_valid() -> None:
    """The request every case mutates is valid as it stands."""
    assert validate(valid()) == []


@pytest.mark.parametrize(("mutation", "field"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_rule_names_the_offending_field(mutation: Mutation, field: str) -> None:
    """Breaking one rule yields a violation on exactly that proto field path."""
    request = valid()
    mutation(request)
    assert [v.field for v in validate(request)] == [field]


def test_all_violations_come_in_one_answer() -> None:
    """Several broken rules are all reported, not only the first."""
    request = valid()
    request.uses = -3
    request.constraints.model = ""
    request.constraints.config.top_p = 3.0
    request.request_id = "nope"
    assert [v.field for v in validate(request)] == [
        "uses",
        "constraints.model",
        "constraints.config.top_p",
        "request_id",
    ]


def test_lock_all_without_constraints_is_refused() -> None:
    """LOCK_MODE_ALL with nothing to lock is a mistake worth naming."""
    request = ts.TokenRequest(lock=ts.Lock(mode=ts.LOCK_MODE_ALL))
    assert [v.field for v in validate(request)] == ["lock.mode"]


def test_fields_unknown_to_this_server_are_refused_not_ignored() -> None:
    """A newer client's field could narrow the token; ignoring it would widen it."""
    newer = ts.TokenRequest(constraints=ts.LiveConstraints(model="m"))
    wire = newer.SerializeToString()
    # Field 99 inside constraints.config (a varint), as a newer proto might send.
    config = lc.LiveConfig().SerializeToString() + bytes([0x98, 0x06, 0x01])
    constraints = (
        ts.LiveConstraints(model="m").SerializeToString() + bytes([0x12, len(config)]) + config
    )
    wire = bytes([0x22, len(constraints)]) + constraints
    request = ts.TokenRequest.FromString(wire)
    violations = validate(request)
    assert [v.field for v in violations] == ["constraints.config"]
    assert "99" in violations[0].description


def test_edge_values_are_accepted() -> None:
    """0 uses, a 1 ms lifetime and a lifetime just under 20 h are valid."""
    for lifetime in (timedelta(milliseconds=1), timedelta(hours=20) - timedelta(milliseconds=1)):
        request = ts.TokenRequest(uses=0)
        request.lifetime.FromTimedelta(lifetime)
        assert validate(request) == []
