"""Token buckets per caller: refusing with RetryInfo/QuotaFailure, then recovering."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import grpc
import pytest
from sec_support import StartServer, WritePolicy, details

from livetokens.server.errors import Failure, Reason
from livetokens.server.fingerprint import Fingerprinter
from livetokens.server.idempotency import IdempotencyCache
from livetokens.server.minting import Minter
from livetokens.server.security.policy import PolicyStore, hash_secret, parse_rate
from livetokens.server.security.ratelimit import RateLimiter
from livetokens.server.settings import SecuritySettings
from livetokens.v1 import token_service_pb2 as ts
from livetokens.v1 import token_service_pb2_grpc as ts_grpc


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def limited(limiter: RateLimiter, caller: str, rate: str, burst: int) -> Failure:
    with pytest.raises(Failure) as caught:
        await limiter.acquire(caller, parse_rate(rate, burst))
    assert caught.value.reason is Reason.RATE_LIMITED
    return caught.value


async def test_a_bucket_allows_its_burst_then_refuses_then_recovers() -> None:
    """Burst 2 at 1/s: two mints, a refusal saying 1s, then 0.5s, then a mint again."""
    clock = Clock()
    limiter = RateLimiter(clock)
    rate = parse_rate("1/s", 2)
    await limiter.acquire("a", rate)
    await limiter.acquire("a", rate)
    assert (await limited(limiter, "a", "1/s", 2)).retry_delay == timedelta(seconds=1)
    clock.now += 0.5
    assert (await limited(limiter, "a", "1/s", 2)).retry_delay == timedelta(seconds=0.5)
    clock.now += 0.5
    await limiter.acquire("a", rate)


async def test_the_refusal_names_the_caller_in_quota_failure() -> None:
    """QuotaFailure.subject is the caller; the rate is in the message and metadata."""
    limiter = RateLimiter(Clock())
    await limiter.acquire("billing", parse_rate("60/m", 1))
    failure = await limited(limiter, "billing", "60/m", 1)
    assert [v.subject for v in failure.quota_violations] == ["billing"]
    assert failure.metadata == {"rate": "60/m", "burst": "1"}
    assert failure.code is grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_buckets_are_per_caller() -> None:
    """One caller's empty bucket does not limit another caller."""
    limiter = RateLimiter(Clock())
    await limiter.acquire("a", parse_rate("1/h", 1))
    await limited(limiter, "a", "1/h", 1)
    await limiter.acquire("b", parse_rate("1/h", 1))


async def test_a_smaller_burst_after_a_reload_caps_the_bucket() -> None:
    """The rate comes from the policy in force: a reload that lowers the burst applies."""
    limiter = RateLimiter(Clock())
    await limiter.acquire("a", parse_rate("1/h", 10))
    await limiter.acquire("a", parse_rate("1/h", 1))  # nine left, capped to one, one taken
    await limited(limiter, "a", "1/h", 1)


async def test_the_bucket_map_is_bounded() -> None:
    """At most `capacity` buckets are kept (least recently used go first)."""
    limiter = RateLimiter(Clock(), capacity=3)
    for caller in "abcde":
        await limiter.acquire(caller, parse_rate("1/s", 1))
    assert len(limiter) == 3


def test_rates_parse_per_second_minute_and_hour() -> None:
    """`10/s`, `60/m`, `3600/h` are all ten, one and one per second; burst defaults up."""
    assert parse_rate("10/s", None).per_second == 10
    assert parse_rate("60/m", None).per_second == 1
    assert parse_rate("3600/h", None).burst == 1
    assert parse_rate("2.5/s", None).burst == 3


class Endpoint:
    """A stand-in for Google: counts calls, returns a fresh name each time."""

    def __init__(self) -> None:
        self.calls = 0

    async def create_token(self, body: dict[str, Any], *, deadline: float | None) -> str:
        self.calls += 1
        return f"auth_tokens/fake-{self.calls}"


def minter(write_policy: WritePolicy, clock: Clock, endpoint: Endpoint) -> Minter:
    policy = write_policy('[callers.app]\nrate = "1/m"\nburst = 1\n')
    return Minter(
        endpoint,
        base_url="https://example.invalid",
        api_version="v1alpha",
        fingerprinter=Fingerprinter(b"k"),
        idempotency=IdempotencyCache(),
        policies=PolicyStore(policy),
        rate_limiter=RateLimiter(clock),
    )


async def test_the_minter_refuses_over_the_rate_then_recovers(write_policy: WritePolicy) -> None:
    """Through the use case: a mint, RATE_LIMITED (Google not called), 60s later a mint."""
    clock, endpoint = Clock(), Endpoint()
    use_case = minter(write_policy, clock, endpoint)
    await use_case.mint(ts.TokenRequest(), caller="app", deadline=None)
    with pytest.raises(Failure) as caught:
        await use_case.mint(ts.TokenRequest(), caller="app", deadline=None)
    assert caught.value.reason is Reason.RATE_LIMITED
    assert caught.value.retry_delay == timedelta(seconds=60)
    assert endpoint.calls == 1
    clock.now += 60
    await use_case.mint(ts.TokenRequest(), caller="app", deadline=None)
    assert endpoint.calls == 2


async def test_an_idempotent_repeat_does_not_spend_the_rate(write_policy: WritePolicy) -> None:
    """A retry with the same request_id returns the same token without taking a mint."""
    clock, endpoint = Clock(), Endpoint()
    use_case = minter(write_policy, clock, endpoint)
    request = ts.TokenRequest(request_id=str(uuid.uuid4()))
    first = await use_case.mint(request, caller="app", deadline=None)
    again = await use_case.mint(request, caller="app", deadline=None)
    assert again.name == first.name
    assert endpoint.calls == 1


async def test_the_server_answers_resource_exhausted_with_retry_and_quota_details(
    start_server: StartServer, write_policy: WritePolicy
) -> None:
    """Over the wire: RESOURCE_EXHAUSTED / RATE_LIMITED, QuotaFailure(subject=caller),
    RetryInfo with the time until the next token."""
    secret = "rate-limited-caller-secret-0123456789abcdef"
    policy = write_policy(
        f'[callers.slow]\ncredentials = ["{hash_secret(secret)}"]\nrate = "1/h"\nburst = 1\n'
    )
    running = await start_server(security=SecuritySettings(policy_file=policy))
    metadata = (("authorization", f"Bearer {secret}"),)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        stub = ts_grpc.TokenServiceStub(channel)
        await stub.MintToken(ts.TokenRequest(), timeout=10, metadata=metadata)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.MintToken(ts.TokenRequest(), timeout=10, metadata=metadata)
    info = details(caught.value)
    assert (info.code, info.reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "RATE_LIMITED")
    assert info.quota_subjects == ["bearer:slow"]
    assert info.retry_delay is not None
    assert timedelta(minutes=59) < info.retry_delay <= timedelta(hours=1)
