"""The cost budget: checked before validation, each limit named, refusals charged."""

from __future__ import annotations

import time

import grpc
import pytest
from harden_support import raw_call
from lt_support import seed_request

from livetokens.server import RunningServer
from livetokens.server.budget import Budget, over_budget, walk
from livetokens.server.security.policy import hash_secret
from livetokens.server.settings import LimitSettings, SecuritySettings, SettingsError, from_env
from livetokens.v1 import live_config_pb2 as lc
from livetokens.v1 import token_service_pb2 as ts

INVALID = grpc.StatusCode.INVALID_ARGUMENT
CONFIG = "constraints.config"


def with_tools(count: int, declarations: int = 0) -> ts.TokenRequest:
    """The seed request with ``count`` tools of ``declarations`` functions each."""
    request = seed_request()
    for i in range(count):
        tool = request.constraints.config.tools.add()
        if not declarations:
            tool.google_search.SetInParent()
        for j in range(declarations):
            tool.function_declarations.add(name=f"f{i}_{j}")
    return request


def with_properties(count: int, schemas: int = 1) -> ts.TokenRequest:
    """``schemas`` functions whose parameters each hold ``count`` string properties."""
    request = seed_request()
    tool = request.constraints.config.tools.add()
    for i in range(schemas):
        params = tool.function_declarations.add(name=f"f{i}").parameters
        params.type = lc.SCHEMA_TYPE_OBJECT
        for j in range(count):
            params.properties[f"p{j}"].type = lc.SCHEMA_TYPE_STRING
    return request


def long_text(field: str, length: int) -> ts.TokenRequest:
    """The seed request with one string field of ``length`` characters."""
    request = seed_request()
    config = request.constraints.config
    if field == "system_instruction":
        config.system_instruction.parts.add(text="x" * length)
    elif field == "description":
        config.tools.add().function_declarations.add(name="f", description="x" * length)
    elif field == "voice":
        config.speech_config.voice_name = "x" * length
    return request


OVER = {
    "tools": (with_tools(129), f"{CONFIG}.tools"),
    "declarations per tool": (with_tools(1, 129), f"{CONFIG}.tools[0].function_declarations"),
    "declarations in all": (
        with_tools(3, 128),
        f"{CONFIG}.tools[2].function_declarations[0]",
    ),
    "properties per schema": (
        with_properties(257),
        f"{CONFIG}.tools[0].function_declarations[0].parameters.properties",
    ),
    "schema nodes in all": (
        with_properties(100, schemas=10),
        f"{CONFIG}.tools[0].function_declarations[9].parameters.properties['p",
    ),
    "system instruction text": (
        long_text("system_instruction", 100_001),
        f"{CONFIG}.system_instruction.parts[0].text",
    ),
    "description": (
        long_text("description", 8_193),
        f"{CONFIG}.tools[0].function_declarations[0].description",
    ),
    "any other string": (long_text("voice", 1_025), f"{CONFIG}.speech_config.voice_name"),
}


@pytest.mark.parametrize(("request_", "field"), OVER.values(), ids=OVER.keys())
def test_each_limit_names_the_field_over_it(request_: ts.TokenRequest, field: str) -> None:
    """One request over one limit: one violation, at the field over it."""
    [violation] = over_budget(request_, Budget())
    assert violation.field.startswith(field)


def test_requests_at_every_limit_are_within_the_budget() -> None:
    """Exactly at each limit is allowed."""
    for request in (
        with_tools(128),
        with_tools(1, 128),
        with_tools(2, 128),
        with_properties(256),
        with_properties(99, schemas=10),
        long_text("system_instruction", 100_000),
        long_text("description", 8_192),
        long_text("voice", 1_024),
    ):
        assert over_budget(request, Budget()) == []


def test_the_walk_stops_at_the_first_limit_it_passes() -> None:
    """200,000 properties: the walk visits about max_schema_nodes messages, not all."""
    budget = Budget()
    request = with_properties(1_000, schemas=200)
    started = time.perf_counter()
    state = walk(request, budget)
    assert len(state.violations) == 1
    assert state.messages <= budget.max_schema_nodes + 20
    assert time.perf_counter() - started < 5  # a sanity bound, not a benchmark


async def test_the_server_refuses_over_budget_before_validating(
    channel: grpc.aio.Channel,
) -> None:
    """An invalid request that is also over budget gets REQUEST_TOO_LARGE only."""
    request = with_tools(1, 129)
    request.uses = -5
    result = await raw_call(channel, request.SerializeToString())
    assert (result.code, result.reason) == (INVALID, "REQUEST_TOO_LARGE")
    assert result.fields == (f"{CONFIG}.tools[0].function_declarations",)


async def test_request_bytes_over_the_limit_get_request_too_large(
    start_server: object,
) -> None:
    """Above --max-request-bytes: REQUEST_TOO_LARGE with the sizes; above twice that,
    grpc itself refuses (RESOURCE_EXHAUSTED) without buffering the request."""
    running: RunningServer = await start_server(  # type: ignore[operator]
        limits=LimitSettings(max_request_bytes=4096)
    )
    async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        at_limit = seed_request()
        at_limit.constraints.config.system_instruction.parts.add(text="x")
        filler = 4096 - at_limit.ByteSize()
        at_limit.constraints.config.system_instruction.parts[0].text = "x" * (filler + 1)
        while at_limit.ByteSize() > 4096:
            text = at_limit.constraints.config.system_instruction.parts[0].text
            at_limit.constraints.config.system_instruction.parts[0].text = text[:-1]
        assert at_limit.ByteSize() == 4096
        assert (await raw_call(channel, at_limit.SerializeToString())).code == grpc.StatusCode.OK
        over = (await raw_call(channel, at_limit.SerializeToString() + b"\x30\x01")).code
        result = await raw_call(channel, b"\x00" * 8000)
        beyond = await raw_call(channel, b"\x00" * 9000)
    assert over == INVALID
    assert (result.code, result.reason) == (INVALID, "REQUEST_TOO_LARGE")
    assert result.metadata == {"requestBytes": "8000", "maxRequestBytes": "4096"}
    assert result.fields == ("(request)",)
    assert beyond.code == grpc.StatusCode.RESOURCE_EXHAUSTED


SECRET = "budget-secret-0123456789abcdef0123456789ab"


async def test_refusals_spend_the_callers_rate(start_server: object, tmp_path: object) -> None:
    """Undecodable, over-budget, invalid and policy-denied requests each take a token from
    the caller's bucket: after burst 4 of them, a valid mint is RATE_LIMITED."""
    import pathlib

    policy = pathlib.Path(str(tmp_path)) / "policy.toml"
    policy.write_text(
        f'[callers.app]\ncredentials = ["{hash_secret(SECRET)}"]\nmax_uses = 5\n'
        'rate = "1/h"\nburst = 4\n'
    )
    running: RunningServer = await start_server(  # type: ignore[operator]
        security=SecuritySettings(policy_file=policy)
    )
    metadata = (("authorization", f"Bearer {SECRET}"),)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        call = channel.unary_unary(
            "/livetokens.v1.TokenService/MintToken",
            request_serializer=None,
            response_deserializer=ts.Token.FromString,
        )
        reasons = []
        for payload in (
            b"\xff\xff\xff",
            with_tools(129).SerializeToString(),
            ts.TokenRequest(uses=-1).SerializeToString(),
            ts.TokenRequest(uses=6).SerializeToString(),
            ts.TokenRequest().SerializeToString(),
        ):
            try:
                await call(payload, timeout=10, metadata=metadata)
                reasons.append("OK")
            except grpc.aio.AioRpcError as error:
                reasons.append(error.code().name)
    assert reasons == [
        "INVALID_ARGUMENT",
        "INVALID_ARGUMENT",
        "INVALID_ARGUMENT",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
    ]


def test_limits_come_from_flags_then_environment() -> None:
    """--max-* flags win over LIVETOKENS_MAX_* variables, which win over the defaults."""
    env = {"LIVETOKENS_MAX_REQUEST_BYTES": "1000", "LIVETOKENS_MAX_CONCURRENT_MINTS": "7"}
    assert from_env({}).limits == LimitSettings()
    limits = from_env(env, max_concurrent_mints=9).limits
    assert (limits.max_request_bytes, limits.max_concurrent_mints) == (1000, 9)
    assert limits.max_pending_calls == LimitSettings().max_pending_calls
    with pytest.raises(SettingsError, match="LIVETOKENS_MAX_PENDING_CALLS"):
        from_env({"LIVETOKENS_MAX_PENDING_CALLS": "0"})
    with pytest.raises(SettingsError, match="max-request-bytes"):
        from_env({}, max_request_bytes=0)
