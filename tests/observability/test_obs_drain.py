"""Drain that probes can see: NOT_SERVING first while calls are still accepted, then the
listener stops, then in-flight mints finish or are cut off (logged and counted)."""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import signal
import sys
import time
from collections.abc import AsyncIterator

import aiohttp
import grpc
import pytest
from lt_support import API_KEY, port_written
from obs_support import StartServer, health_status, http_get, scrape, value

from livetokens.emulator import Emulator, EmulatorConfig
from livetokens.server.settings import ObservabilitySettings
from livetokens.v1 import token_service_pb2 as ts
from livetokens.v1 import token_service_pb2_grpc as ts_grpc

SLOW = "slow-model"


async def _mint(port: int, model: str = "", deadline_s: float = 10) -> ts.Token | grpc.StatusCode:
    request = ts.TokenRequest(constraints=ts.LiveConstraints(model=model)) if model else None
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            return await ts_grpc.TokenServiceStub(channel).MintToken(
                request or ts.TokenRequest(), timeout=deadline_s
            )
        except grpc.aio.AioRpcError as error:
            return error.code()


class Probe:
    """Polls /readyz and gRPC health every 50 ms, like a kubelet with a short period."""

    def __init__(self, http_port: int, health_port: int) -> None:
        self.http_port = http_port
        self.health_port = health_port
        self.seen: list[tuple[float, int, str]] = []
        self.not_serving = asyncio.Event()

    async def run(self) -> None:
        while True:
            try:
                status = (await http_get(self.http_port, "/readyz"))[0]
                health = await health_status(self.health_port)
            except (aiohttp.ClientError, grpc.aio.AioRpcError):  # closed at the very end
                return
            self.seen.append((time.monotonic(), status, health))
            if status == 503 and health == "NOT_SERVING":
                self.not_serving.set()
            await asyncio.sleep(0.05)


@pytest.fixture
async def draining_process(
    tmp_path: pathlib.Path,
) -> AsyncIterator[tuple[asyncio.subprocess.Process, int, int, int]]:
    """`livetokens serve` (bundled emulator, SLOW answers after 5 s) with a 3 s drain
    delay, a 10 s grace period, JSON logs and its admin listeners on ports 0."""
    port_file, admin_file = tmp_path / "port", tmp_path / "admin"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GEMINI_", "LIVETOKENS_"))}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "livetokens.server", "serve",
        "--listen", "127.0.0.1:0", "--insecure-no-auth", "--emulator",
        "--port-file", str(port_file),
        "--admin-listen", "127.0.0.1:0", "--health-listen", "127.0.0.1:0",
        "--admin-port-file", str(admin_file), "--drain-delay", "3", "--grace-period", "10",
        "--log-format", "json", "--emulator-model-latency", f"{SLOW}=5",
        env={**env, "PYTHONUNBUFFERED": "1"},
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with asyncio.timeout(20):
            await port_written(port_file)
        http_port, health_port = map(int, admin_file.read_text().split())
        yield process, int(port_file.read_text()), http_port, health_port
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def test_sigterm_readiness_flips_first_then_the_listener_stops_then_mints_drain(
    draining_process: tuple[asyncio.subprocess.Process, int, int, int],
) -> None:
    """A probe sees NOT_SERVING while new mints still succeed; later mints are refused;
    the mint in flight completes; the process exits 0 and logs JSON lines."""
    process, port, http_port, health_port = draining_process
    probe = Probe(http_port, health_port)
    polling = asyncio.ensure_future(probe.run())
    slow = asyncio.ensure_future(_mint(port, SLOW))
    async with asyncio.timeout(10):
        while len(probe.seen) < 2:  # noqa: ASYNC110 - the probe has polled while serving
            await asyncio.sleep(0.05)
    assert probe.seen[-1][1:] == (200, "SERVING")
    process.send_signal(signal.SIGTERM)
    await asyncio.wait_for(probe.not_serving.wait(), 5)
    # (1) Endpoint-removal window: not ready, but the main listener still mints.
    during = await _mint(port)
    assert isinstance(during, ts.Token)
    # (2) Then the listener stops accepting new calls.
    async with asyncio.timeout(10):
        while isinstance(after := await _mint(port, deadline_s=1), ts.Token):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    # UNAVAILABLE once the port is closed; a call racing the stop itself may see
    # CANCELLED or run out its 1 s deadline. None of them is a token.
    assert after in (
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.CANCELLED,
    )
    # (3) The mint that was in flight all along completes.
    token = await slow
    assert isinstance(token, ts.Token)
    assert token.model == f"models/{SLOW}"
    assert await asyncio.wait_for(process.wait(), 15) == 0
    await polling
    # Each probe (polled one after the other) flips once and never comes back.
    for seen, up, down in (
        ([status for _, status, _ in probe.seen], 200, 503),
        ([health for _, _, health in probe.seen], "SERVING", "NOT_SERVING"),
    ):
        first_down = seen.index(down)
        assert first_down > 0
        assert set(seen[:first_down]) == {up}
        assert set(seen[first_down:]) == {down}
    assert process.stderr is not None
    lines = [json.loads(line) for line in (await process.stderr.read()).decode().splitlines()]
    messages = [line["message"] for line in lines]
    assert any(m.startswith("SIGTERM received: not serving") for m in messages)
    assert messages[-1] == "stopped"
    assert not any("cut off" in m for m in messages)


async def test_mints_still_running_when_the_grace_period_ends_are_logged_and_counted(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A mint longer than the grace period is cancelled, logged as cut off and counted."""
    config = EmulatorConfig(api_keys=frozenset({API_KEY}), model_latency={SLOW: 5})
    async with Emulator(config) as emulator:
        running = await start_server(
            upstream_url=emulator.base_url,
            observability=ObservabilitySettings(admin_listen="127.0.0.1:0"),
        )
        slow = asyncio.ensure_future(_mint(running.port, SLOW))
        while running.metrics.mints_in_flight() == 0:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        text_before = await scrape(running)
        assert value(text_before, "livetokens_mints_in_flight") == 1
        stopping = asyncio.ensure_future(running.stop(0.5))
        assert await slow in (grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE)
        await stopping
    assert running.metrics.drain_cut_off._value.get() == 1
    assert running.metrics.mints.labels("anonymous", SLOW, "CUT_OFF")._value.get() == 1
    messages = [r.getMessage() for r in caplog.records]
    assert "grace period over: cutting off 1 mints in flight" in messages
    assert any(
        m.startswith("mint cut off at the end of the shutdown grace period") for m in messages
    )
