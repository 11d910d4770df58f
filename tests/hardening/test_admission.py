"""Admission control: shed with OVERLOADED above the limit, never grpc's silent CANCELLED."""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import pathlib
import sys
from collections.abc import AsyncIterator

import grpc
import pytest
from harden_support import raw_call
from lt_support import API_KEY, seed_request, server_settings

from livetokens.emulator import Emulator, EmulatorConfig
from livetokens.server import RunningServer, create_server
from livetokens.server.admission import Admission
from livetokens.server.errors import Failure, Reason
from livetokens.server.settings import LimitSettings

SLOW_MODEL = "slow-model"
FLOOD = pathlib.Path(__file__).with_name("flood.py")


@pytest.fixture
async def slow_emulator() -> AsyncIterator[Emulator]:
    """An emulator that answers mints for SLOW_MODEL after 250 ms."""
    config = EmulatorConfig(api_keys=frozenset({API_KEY}), model_latency={SLOW_MODEL: 0.25})
    async with Emulator(config) as emulator:
        yield emulator


def slow_request() -> bytes:
    """A valid request whose upstream answer takes 250 ms."""
    request = seed_request()
    request.constraints.model = SLOW_MODEL
    return request.SerializeToString()


async def started(emulator: Emulator, **overrides: object) -> RunningServer:
    """A server against ``emulator`` (settings overrides as keyword arguments)."""
    return await create_server(server_settings(emulator.base_url, **overrides))


def test_admission_counts_and_sheds_above_its_limit() -> None:
    """The limit admits that many at once; the next is OVERLOADED with RetryInfo."""
    admission = Admission(2)
    admission.enter()
    admission.enter()
    with pytest.raises(Failure) as shed:
        admission.enter()
    assert shed.value.reason is Reason.OVERLOADED
    assert shed.value.retry_delay is not None
    assert shed.value.metadata == {"maxConcurrentMints": "2"}
    admission.leave()
    admission.enter()
    assert (admission.in_flight, admission.admitted_total, admission.shed_total) == (2, 3, 1)


async def test_calls_above_the_limit_get_overloaded_with_retry_info(
    slow_emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """With --max-concurrent-mints 3, 10 concurrent slow mints: 3 succeed, 7 are shed
    with UNAVAILABLE / OVERLOADED and RetryInfo, logged once and counted."""
    caplog.set_level(logging.INFO)
    running = await started(slow_emulator, limits=LimitSettings(max_concurrent_mints=3))
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            await channel.channel_ready()
            results = await asyncio.gather(*(raw_call(channel, slow_request()) for _ in range(10)))
    finally:
        await running.stop(0)
    codes = collections.Counter((r.code, r.reason) for r in results)
    assert codes == {
        (grpc.StatusCode.OK, ""): 3,
        (grpc.StatusCode.UNAVAILABLE, "OVERLOADED"): 7,
    }
    assert all(r.retry_delay == 0.5 for r in results if r.reason == "OVERLOADED")
    assert running.admission is not None
    assert (running.admission.shed_total, running.admission.in_flight) == (7, 0)
    overload_lines = [r for r in caplog.records if "overloaded: shed" in r.getMessage()]
    assert len(overload_lines) == 1


async def test_two_thousand_mints_in_flight_all_succeed_with_the_defaults(
    slow_emulator: Emulator,
) -> None:
    """2,000 concurrent mints from another process at 250 ms upstream latency, default
    limits: every one OK (grpc core's default pending-call queue of 1000 cancelled about
    10 % of them silently)."""
    running = await started(slow_emulator)
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(FLOOD),
            str(running.port),
            "2000",
            "4",
            slow_request().hex(),
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await asyncio.wait_for(process.communicate(), 50)
    finally:
        await running.stop(0)
    assert process.returncode == 0
    assert json.loads(out) == {"OK": 2000}
    assert running.admission is not None
    assert running.admission.admitted_total == 2000
