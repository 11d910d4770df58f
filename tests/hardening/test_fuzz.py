"""Property-based fuzzing of MintToken over a real channel to a real server (emulator
upstream): whatever the bytes, the answer is a row of the error table.

Three generators, each derandomized (the same examples every run) and bounded so that the
file takes about a minute: structured TokenRequests with extreme values in every field
(found by walking the descriptors), byte-level mutations of valid encodings, and random
bytes. Every answer must be OK or carry ErrorInfo; never INTERNAL, UNKNOWN or another code
outside the table; no ERROR line in the log.
"""

from __future__ import annotations

import logging
import pathlib
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from harden_support import Outcome, raw_call
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lt_support import MODEL, seed_request

from livetokens.server import RunningServer
from livetokens.server.errors import TABLE
from livetokens.server.settings import SecuritySettings
from livetokens.v1 import live_config_pb2 as lc
from livetokens.v1 import token_service_pb2 as ts

FUZZ = settings(
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # one server for all examples, on purpose
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
ALLOWED = {grpc.StatusCode.OK} | {code for code in TABLE.values()} - {grpc.StatusCode.INTERNAL}

INT32 = [0, 1, -1, 2**31 - 1, -(2**31), 2**15, 86_400_000]
INT64 = [*INT32, 2**63 - 1, -(2**63), 86_400_000_000_000, 315_576_000_001]
FLOATS = st.one_of(
    st.sampled_from([0.0, -0.0, 1.0, -1.0, 2.0, 1e-45, 3.4e38, -3.4e38]),
    st.floats(width=32, allow_nan=True, allow_infinity=True),
)
TEXT = st.one_of(
    st.sampled_from(["", "a", "1bad", MODEL, "en-US", "models/x", "x" * 300, "€" * 1025]),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=40),
)


def _scalar(field: FieldDescriptor) -> st.SearchStrategy[Any]:
    """Extreme values for one scalar field, by its type."""
    kind = field.type
    if kind == FieldDescriptor.TYPE_ENUM:
        known = [v.number for v in field.enum_type.values]
        return st.one_of(st.sampled_from(known), st.sampled_from([-1, 99, 2**31 - 1, -(2**31)]))
    if kind == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if kind in (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE):
        return FLOATS
    if kind == FieldDescriptor.TYPE_STRING:
        return TEXT
    if kind == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=40)
    if kind in (
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_SFIXED64,
    ):
        return st.one_of(st.sampled_from(INT64), st.integers(-(2**63), 2**63 - 1))
    if kind in (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64):
        return st.integers(0, 2**64 - 1)
    if kind in (FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32):
        return st.integers(0, 2**32 - 1)
    return st.one_of(st.sampled_from(INT32), st.integers(-(2**31), 2**31 - 1))


def _fill(draw: Callable[..., Any], message: Message, depth: int) -> None:
    """Set a random subset of ``message``'s fields, recursing into messages."""
    descriptor: Descriptor = message.DESCRIPTOR
    for field in descriptor.fields:
        if not draw(st.booleans()):
            continue
        if field.message_type is not None:
            if depth <= 0:
                continue
            if field.message_type.GetOptions().map_entry:
                container = getattr(message, field.name)
                for key in draw(st.lists(TEXT, max_size=3)):
                    value_field = field.message_type.fields_by_name["value"]
                    if value_field.message_type is not None:
                        _fill(draw, container[key], depth - 1)
                    else:
                        container[key] = draw(_scalar(value_field))
            elif field.is_repeated:
                container = getattr(message, field.name)
                for _ in range(draw(st.integers(0, 3))):
                    _fill(draw, container.add(), depth - 1)
            else:
                child = getattr(message, field.name)
                child.SetInParent()
                _fill(draw, child, depth - 1)
        elif field.is_repeated:
            getattr(message, field.name).extend(draw(st.lists(_scalar(field), max_size=4)))
        else:
            setattr(message, field.name, draw(_scalar(field)))


@st.composite
def structured(draw: Callable[..., Any]) -> bytes:
    """A TokenRequest with random fields set to extreme values, anywhere in the tree."""
    request = ts.TokenRequest()
    if draw(st.booleans()):
        request.CopyFrom(seed_request())
    _fill(draw, request, depth=draw(st.integers(1, 6)))
    return request.SerializeToString()


def _valid_encodings() -> list[bytes]:
    """Valid requests of several shapes, to mutate."""
    with_tools = seed_request()
    fn = with_tools.constraints.config.tools.add().function_declarations.add(name="lookup")
    fn.parameters.type = lc.SCHEMA_TYPE_OBJECT
    fn.parameters.properties["q"].type = lc.SCHEMA_TYPE_STRING
    fn.parameters.required.append("q")
    full = seed_request(uses=3, request_id="6f1c8a52-4a8e-4d0b-9a55-0b0c3a8f4f1e")
    full.lifetime.seconds = 600
    full.new_session_window.seconds = 60
    full.constraints.config.system_instruction.parts.add(text="Be brief.")
    full.constraints.config.translation_config.target_language_code = "de-DE"
    full.lock.mode = ts.LOCK_MODE_SET_FIELDS
    full.lock.additional_fields.append(ts.LOCKABLE_FIELD_OUTPUT_AUDIO_TRANSCRIPTION)
    return [r.SerializeToString() for r in (ts.TokenRequest(), seed_request(), with_tools, full)]


VALID = _valid_encodings()


@st.composite
def mutated(draw: Callable[..., Any]) -> bytes:
    """A valid encoding with a few byte-level edits: flips, inserts, deletes, copies."""
    data = bytearray(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "set", "insert", "delete", "duplicate", "truncate"]))
        at = draw(st.integers(0, len(data)))
        if op == "flip" and data:
            data[at % len(data)] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and data:
            data[at % len(data)] = draw(st.sampled_from([0x00, 0x7F, 0x80, 0xFF, 0x0A, 0x12]))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        elif op == "duplicate":
            data[at:at] = data[at : at + draw(st.integers(1, 32))]
        elif op == "truncate":
            del data[at:]
    return bytes(data)


@pytest.fixture
async def fuzzed(start_server: Any, tmp_path: pathlib.Path) -> RunningServer:
    """One server for all examples, with an audit log (so refusal records are fuzzed too)."""
    running: RunningServer = await start_server(
        security=SecuritySettings(insecure_no_auth=True, audit_log=tmp_path / "audit.jsonl")
    )
    return running


@pytest.fixture
async def fuzz_channel(fuzzed: RunningServer) -> Any:
    """A channel to the fuzzed server."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{fuzzed.port}") as channel:
        yield channel


def check(result: Outcome) -> None:
    """OK, or a code of the error table (not INTERNAL) with ErrorInfo."""
    assert result.code in ALLOWED, (result.code, result.message)
    if result.code is not grpc.StatusCode.OK:
        assert result.reason, (result.code, result.message)


@pytest.fixture(autouse=True)
def no_error_lines(caplog: pytest.LogCaptureFixture) -> Any:
    """After the test: no ERROR (or worse) line was logged."""
    caplog.set_level(logging.INFO)
    yield
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []


@pytest.mark.timeout(120)  # about 5 s on an idle machine; far more on a loaded one
@settings(FUZZ, max_examples=800)
@given(payload=structured())
async def test_structured_requests_with_extreme_values(
    fuzz_channel: grpc.aio.Channel, payload: bytes
) -> None:
    """Any field, any extreme value: OK or a documented error with ErrorInfo."""
    check(await raw_call(fuzz_channel, payload))


@pytest.mark.timeout(120)  # about 5 s on an idle machine; far more on a loaded one
@settings(FUZZ, max_examples=800)
@given(payload=mutated())
async def test_mutated_encodings(fuzz_channel: grpc.aio.Channel, payload: bytes) -> None:
    """Byte-level edits of valid requests: OK or a documented error with ErrorInfo."""
    check(await raw_call(fuzz_channel, payload))


@pytest.mark.timeout(120)
@settings(FUZZ, max_examples=500)
@given(payload=st.binary(max_size=600))
async def test_random_bytes(fuzz_channel: grpc.aio.Channel, payload: bytes) -> None:
    """Random bytes: OK (they may happen to decode) or a documented error with ErrorInfo."""
    check(await raw_call(fuzz_channel, payload))
