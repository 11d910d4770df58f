"""``make bench-hardening``: 2,000 mints in flight at once, 250 ms upstream latency.

A benchmark, not a test. It starts ``livetokens serve`` and ``livetokens emulator`` in
child processes and sends 2,000 concurrent MintToken calls from this one (over 4
channels), ``--rounds`` times, and prints how each call ended and the latency. The
second row runs the same with ``--max-pending-calls 1000`` (gRPC core's soft limit by
default; its hard limit is 3000) to show what the defaults of livetokens avoid: calls
cancelled silently before they reach livetokens.

    .venv/bin/python bench/overload.py [--calls 2000] [--rounds 3] [--latency 0.25]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import time
from collections.abc import Sequence

import grpc
from hardening_support import percentile, serve, slow_request, stub


async def flood(
    target: str, calls: int, channels: int
) -> tuple[collections.Counter[str], list[float], float]:
    """``calls`` concurrent mints; the outcome counts, latencies (ms) and wall time (s)."""
    opened = [grpc.aio.insecure_channel(target) for _ in range(channels)]
    stubs = [stub(c) for c in opened]
    for channel in opened:
        await channel.channel_ready()
    latencies: list[float] = []
    payload = slow_request()

    async def one(i: int) -> str:
        started = time.perf_counter()
        try:
            await stubs[i % channels].MintToken(payload, timeout=60)
        except grpc.aio.AioRpcError as error:
            return error.code().name
        finally:
            latencies.append((time.perf_counter() - started) * 1000)
        return "OK"

    started = time.perf_counter()
    outcomes = await asyncio.gather(*(one(i) for i in range(calls)))
    wall = time.perf_counter() - started
    for channel in opened:
        await channel.close()
    return collections.Counter(outcomes), latencies, wall


async def scenario(name: str, args: argparse.Namespace, *extra: str) -> str:
    """One row: ``--rounds`` floods against one server."""
    totals: collections.Counter[str] = collections.Counter()
    latencies: list[float] = []
    walls: list[float] = []
    async with serve(args.latency, *extra) as server:
        for _ in range(args.rounds):
            counts, lat, wall = await flood(server.target, args.calls, 4)
            totals.update(counts)
            latencies.extend(lat)
            walls.append(wall)
    ok = totals.pop("OK", 0)
    errors = ", ".join(f"{code} {n}" for code, n in sorted(totals.items())) or "0"
    return (
        f"| {name} | {args.rounds} x {args.calls} | {ok} | {errors} | "
        f"{percentile(latencies, 0.5):.0f} / {percentile(latencies, 0.99):.0f} / "
        f"{max(latencies):.0f} ms | {min(walls):.2f}-{max(walls):.2f} s |"
    )


async def run(args: argparse.Namespace) -> None:
    print(f"{args.calls} mints in flight, {args.latency * 1000:g} ms upstream latency\n")
    print("| server | calls | OK | errors | p50 / p99 / max | wall per round |")
    print("|---|--:|--:|---|--:|--:|")
    print(await scenario("livetokens, defaults", args), flush=True)
    print(
        await scenario("livetokens, --max-pending-calls 1000", args, "--max-pending-calls", "1000"),
        flush=True,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.25, help="upstream seconds")
    asyncio.run(run(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
