"""``make bench-hardening``: how long the most expensive request the budget admits holds
the event loop.

A benchmark, not a test. It builds the requests that cost livetokens the most while
staying within the default cost budget (docs/hardening.md) and measures two things:

- CPU: the synchronous work of one mint (decode, budget walk, validation, translation,
  the JSON body), timed in this process: the median of ``--repeat`` runs, min and max
  beside it. This is what would hold the event loop if it all ran inline.
- Event loop: a real server (in this process; the emulator in its own) gets
  each request ``--repeat`` times over a real channel while a probe task sleeps 1 ms
  in a loop on the server's event loop; the figure is the probe's worst lateness,
  i.e. the longest any other caller's call could not be served. Requests over 4 KiB
  are checked and translated in a worker thread, so this is far below the CPU figure.

The goal is under 20 ms on the event loop.

    .venv/bin/python bench/worst_request.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import secrets
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import grpc
from hardening_support import emulator_process

from livetokens.server import Settings, UpstreamSettings, create_server
from livetokens.server.budget import Budget, over_budget
from livetokens.server.settings import LimitSettings, Secret, SecuritySettings
from livetokens.server.translate import translate
from livetokens.server.validation import validate
from livetokens.v1 import live_config_pb2 as lc
from livetokens.v1 import token_service_pb2 as ts

MODEL = "gemini-live-2.5-flash-preview"


def _base() -> ts.TokenRequest:
    request = ts.TokenRequest()
    request.constraints.model = MODEL
    request.constraints.config.response_modalities.append(lc.MODALITY_AUDIO)
    return request


def wide_schemas(budget: Budget, description: int) -> ts.TokenRequest:
    """Every schema node the budget allows, as properties of as few schemas as allowed,
    each with a ``description``-character description."""
    request = _base()
    tool = request.constraints.config.tools.add()
    per_schema = budget.field_limits["livetokens.v1.Schema.properties"]
    nodes = 0
    while nodes + 1 < budget.max_schema_nodes:
        fn = tool.function_declarations.add(name=f"function_{len(tool.function_declarations)}")
        params = fn.parameters
        params.type = lc.SCHEMA_TYPE_OBJECT
        nodes += 1
        for j in range(min(per_schema, budget.max_schema_nodes - nodes)):
            prop = params.properties[f"property_{j:03d}"]
            prop.type = lc.SCHEMA_TYPE_STRING
            prop.description = "d" * description
            params.required.append(f"property_{j:03d}")
            nodes += 1
    return request


def deep_schemas(budget: Budget) -> ts.TokenRequest:
    """Every schema node the budget allows, as chains 16 levels deep (the depth limit)."""
    request = _base()
    tool = request.constraints.config.tools.add()
    nodes = 0
    while nodes + 16 <= budget.max_schema_nodes:
        fn = tool.function_declarations.add(name=f"function_{len(tool.function_declarations)}")
        schema = fn.parameters
        for _ in range(15):
            schema.type = lc.SCHEMA_TYPE_OBJECT
            schema.required.append("next")
            schema = schema.properties["next"]
        schema.type = lc.SCHEMA_TYPE_STRING
        nodes += 16
    return request


def many_declarations(budget: Budget) -> ts.TokenRequest:
    """Every function declaration the budget allows, each with a long description."""
    request = _base()
    per_tool = budget.field_limits["livetokens.v1.Tool.function_declarations"]
    for i in range(budget.max_declarations // per_tool):
        tool = request.constraints.config.tools.add()
        for j in range(per_tool):
            tool.function_declarations.add(name=f"f{i}_{j}", description="d" * 900)
    return request


def long_instruction() -> ts.TokenRequest:
    """The longest system instruction validation allows, 4-byte characters."""
    request = _base()
    request.constraints.config.system_instruction.parts.add(text="😀" * 100_000)
    return request


def fit(request: ts.TokenRequest, max_bytes: int) -> ts.TokenRequest:
    """``request`` with descriptions shortened until it fits in ``max_bytes``."""
    while request.ByteSize() > max_bytes:
        for tool in request.constraints.config.tools:
            for fn in tool.function_declarations:
                fn.description = fn.description[: len(fn.description) * 9 // 10]
                for prop in fn.parameters.properties.values():
                    prop.description = prop.description[: len(prop.description) * 9 // 10]
    return request


def mint_work(raw: bytes, budget: Budget) -> None:
    """What one mint does on the event loop, in order (minus policy and the I/O)."""
    request = ts.TokenRequest.FromString(raw)
    assert not over_budget(request, budget)
    assert not validate(request), validate(request)[:3]
    body = translate(request, now=datetime.now(UTC)).body
    json.dumps(body, separators=(",", ":")).encode()


def measure(work: Callable[[], None], repeat: int) -> list[float]:
    """Milliseconds per run of ``work``."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return times


class LagProbe:
    """Sleeps 1 ms at a time on the event loop and records how late it wakes up."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.001)
            self.worst = max(self.worst, (time.perf_counter() - before - 0.001) * 1000)

    def reset(self) -> None:
        """Forget what was measured so far."""
        self.worst = 0.0

    def start(self) -> None:
        """Start probing on the running loop."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop probing."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def loop_hold(
    candidates: dict[str, bytes], repeat: int
) -> tuple[dict[str, float], dict[str, float]]:
    """Per request: the worst event-loop lateness (ms) while a real server handles it,
    and the event-loop thread's own CPU time per call (ms; other processes' load does
    not count in it, unlike in the lateness)."""
    logging.disable(logging.INFO)
    key = "bench-" + secrets.token_hex(8)
    held: dict[str, float] = {}
    loop_cpu: dict[str, float] = {}
    async with emulator_process(key) as base_url:
        settings = Settings(
            listen="127.0.0.1:0",
            upstream=dataclasses.replace(UpstreamSettings(), base_url=base_url),
            api_key=Secret(key),
            security=SecuritySettings(insecure_no_auth=True),
        )
        running = await create_server(settings)
        probe = LagProbe()
        probe.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
                call = channel.unary_unary(
                    "/livetokens.v1.TokenService/MintToken",
                    request_serializer=None,
                    response_deserializer=ts.Token.FromString,
                )
                for name, raw in candidates.items():
                    await call(raw, timeout=30)  # warm up (and check it is admitted)
                    await asyncio.sleep(0.05)
                    probe.reset()
                    cpu = time.thread_time()
                    for _ in range(repeat):
                        await call(raw, timeout=30)
                    loop_cpu[name] = (time.thread_time() - cpu) * 1000 / repeat
                    held[name] = probe.worst
        finally:
            await probe.stop()
            await running.stop(1)
    return held, loop_cpu


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    budget = Budget()
    max_bytes = LimitSettings().max_request_bytes
    small = _base()
    small.constraints.config.temperature = 0.7
    candidates = {
        "seed request (for comparison)": small,
        f"{budget.max_schema_nodes:,} schema nodes, wide, long descriptions": fit(
            wide_schemas(budget, 240), max_bytes
        ),
        f"{budget.max_schema_nodes:,} schema nodes, wide, no descriptions": wide_schemas(budget, 0),
        f"{budget.max_schema_nodes:,} schema nodes, 16 deep": deep_schemas(budget),
        f"{budget.max_declarations} declarations, long descriptions": fit(
            many_declarations(budget), max_bytes
        ),
        "100,000-character system instruction": long_instruction(),
    }
    encoded = {name: request.SerializeToString() for name, request in candidates.items()}
    held, loop_cpu = asyncio.run(loop_hold(encoded, args.repeat))
    print(
        "| request (within the default budget) | bytes | CPU per mint, median (min-max) "
        "| event-loop thread CPU per call | event loop late, worst |"
    )
    print("|---|--:|--:|--:|--:|")
    worst_cpu = worst_loop = worst_thread = 0.0
    for name, raw in encoded.items():
        assert len(raw) <= max_bytes, (name, len(raw))
        times = measure(lambda raw=raw: mint_work(raw, budget), args.repeat)
        median = statistics.median(times)
        worst_cpu = max(worst_cpu, median)
        worst_loop = max(worst_loop, held[name])
        worst_thread = max(worst_thread, loop_cpu[name])
        print(
            f"| {name} | {len(raw):,} | {median:.1f} ms ({min(times):.1f}-{max(times):.1f}) "
            f"| {loop_cpu[name]:.1f} ms | {held[name]:.1f} ms |"
        )
    print(
        f"\nworst admitted request: {worst_cpu:.1f} ms of CPU in all, {worst_thread:.1f} ms of "
        f"it on the event-loop thread; the event loop was late by at most {worst_loop:.1f} ms "
        "(goal < 20 ms; the seed request's row is this machine's noise floor)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
