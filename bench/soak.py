"""``make soak``: 3 minutes at 64 mints in flight, a fresh request_id on every call.

A benchmark, not a test. It starts ``livetokens serve`` and ``livetokens emulator`` (100 ms
upstream latency) in child processes and keeps 64 callers busy, each call with a new UUID4
request_id (as the official clients send), for ``--seconds``. Every second it samples
the server's RSS and times a grpc.health.v1 Check (1 s deadline). At the end it prints,
as a table: RSS at 30 s and at the end (the goal: within 20 MB), p99 latency per minute
(the goal: the last within 1.5x of the first) and the worst health-check latency.

    .venv/bin/python bench/soak.py [--seconds 180] [--concurrency 64] [--latency 0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import time
import uuid
from collections.abc import Sequence

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hardening_support import percentile, rss_mb, serve, slow_request, stub


async def soak(args: argparse.Namespace) -> None:
    async with serve(args.latency) as server:
        async with grpc.aio.insecure_channel(server.target) as channel:
            mint = stub(channel).MintToken
            health = health_pb2_grpc.HealthStub(channel)
            started = time.monotonic()
            end = started + args.seconds
            latencies: list[tuple[float, float]] = []  # (seconds since start, ms)
            outcomes: collections.Counter[str] = collections.Counter()
            rss: list[tuple[float, float]] = []
            checks: list[tuple[float, float]] = []

            async def caller() -> None:
                while time.monotonic() < end:
                    t0 = time.monotonic()
                    try:
                        request_id = "" if args.no_request_id else str(uuid.uuid4())
                        await mint(slow_request(request_id), timeout=10)
                        outcomes["OK"] += 1
                    except grpc.aio.AioRpcError as error:
                        outcomes[error.code().name] += 1
                    latencies.append((t0 - started, (time.monotonic() - t0) * 1000))

            async def sampler() -> None:
                while time.monotonic() < end:
                    await asyncio.sleep(1)
                    now = time.monotonic() - started
                    rss.append((now, rss_mb(server.pid)))
                    t0 = time.monotonic()
                    try:
                        await health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                        checks.append((now, (time.monotonic() - t0) * 1000))
                    except grpc.aio.AioRpcError:
                        checks.append((now, float("inf")))

            await asyncio.gather(sampler(), *(caller() for _ in range(args.concurrency)))
        report(args, latencies, outcomes, rss, checks)


def report(
    args: argparse.Namespace,
    latencies: list[tuple[float, float]],
    outcomes: collections.Counter[str],
    rss: list[tuple[float, float]],
    checks: list[tuple[float, float]],
) -> None:
    """The soak's table."""
    warm = min(30.0, args.seconds / 6)
    at_warm = next((mb for t, mb in rss if t >= warm), rss[0][1])
    final = rss[-1][1]
    window = min(60.0, args.seconds / 3)
    first = [ms for t, ms in latencies if t < window]
    last = [ms for t, ms in latencies if t >= args.seconds - window]
    p99_first, p99_last = percentile(first, 0.99), percentile(last, 0.99)
    answered = [ms for _, ms in checks if ms != float("inf")]
    missed = len(checks) - len(answered)
    worst_check = f"{max(answered):.0f} ms" if answered else "-"
    if missed:
        worst_check += f" ({missed} of {len(checks)} missed the 1 s deadline)"
    errors = ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()) if k != "OK") or "0"
    print(
        f"soak: {args.seconds:g} s at {args.concurrency} in flight, "
        f"{'no request_id' if args.no_request_id else 'fresh request_id per call'}, "
        f"{args.latency * 1000:g} ms upstream\n"
    )
    print("| measure | value | goal |")
    print("|---|--:|---|")
    print(f"| mints OK / errors | {outcomes['OK']:,} / {errors} | 0 errors |")
    print(f"| RSS at {warm:.0f} s | {at_warm:.1f} MB | |")
    print(f"| RSS at the end | {final:.1f} MB | |")
    print(f"| RSS growth after {warm:.0f} s | {final - at_warm:+.1f} MB | within 20 MB |")
    print(f"| RSS peak | {max(mb for _, mb in rss):.1f} MB | |")
    print(f"| p99, first {window:.0f} s | {p99_first:.0f} ms | |")
    print(f"| p99, last {window:.0f} s | {p99_last:.0f} ms | |")
    print(f"| p99 drift | {p99_last / p99_first:.2f}x | within 1.5x |")
    print(f"| worst health check (1 s deadline) | {worst_check} | |")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.1, help="upstream seconds")
    parser.add_argument(
        "--no-request-id", action="store_true", help="send no request_id (for comparison)"
    )
    asyncio.run(soak(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
