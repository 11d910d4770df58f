"""``make bench-workers`` (part of ``make bench``): one worker against two, on Redis.

A benchmark, not a test: it asserts nothing, it measures. In one run it starts a
redis-server (Debian's, ``make redis-server``) and the upstream emulator, each in its
own process, then for each configuration in turn (interleaved when ``--repeat`` > 1,
so compared rows share the same background load):

    1 worker    livetokens serve --workers 1 --state redis://…
    2 workers   livetokens serve --workers 2 --state redis://…  (SO_REUSEPORT)

and drives it from ``--clients`` separate client processes (a Python gRPC client is
itself CPU-bound, so one client process would measure the client), each with
``--concurrency`` calls in flight spread over 8 connections (the kernel gives each
connection to one worker). Every call carries a fresh request_id, so every mint
claims and completes its idempotency entry in Redis, and the caller has a (high) rate
limit, so every mint also takes from the shared bucket.

Columns: mints/s in the measured window, latency p50/p99, errors, and the CPU the
server processes used in the window in cores (1.00 = one core busy all the time):
above 1 only with more than one worker.

    .venv/bin/python bench/workers.py [--seconds 8] [--warmup 2] [--concurrency 64]
        [--clients 2] [--repeat 1] [--upstream-latency-ms 0] [--workers 1,2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pathlib
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import grpc

from livetokens.v1 import live_config_pb2 as lc
from livetokens.v1 import token_service_pb2 as ts
from livetokens.v1 import token_service_pb2_grpc as ts_grpc

CONNECTIONS_PER_CLIENT = 8
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    """Until something accepts on ``port`` (30 s at most)."""
    end = time.monotonic() + 30
    while time.monotonic() < end:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited at start-up (status {process.returncode})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{what} did not listen on {port} within 30 s")


@contextmanager
def started(argv: Sequence[str], env: dict[str, str], port: int, what: str) -> Iterator[int]:
    """Run ``argv`` until the block ends; yields its pid once ``port`` accepts."""
    process = subprocess.Popen(  # noqa: S603 - our own commands
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_port(port, process, what)
        yield process.pid
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` and its children still running (the supervisor's workers)."""
    total = 0.0
    pids = [pid]
    children = pathlib.Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for one in pids:
        try:
            fields = pathlib.Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def request() -> ts.TokenRequest:
    """A realistic request with a fresh request_id."""
    config = lc.LiveConfig(response_modalities=[lc.MODALITY_AUDIO], temperature=0.7)
    return ts.TokenRequest(
        constraints=ts.LiveConstraints(model="gemini-live-2.5-flash-preview", config=config),
        request_id=str(uuid.uuid4()),
    )


async def client(target: str, concurrency: int, warmup: float, seconds: float) -> dict[str, object]:
    """One load-generating process: ``concurrency`` loops over 8 connections."""
    channels = [
        grpc.aio.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)])
        for _ in range(CONNECTIONS_PER_CLIENT)
    ]
    stubs = [ts_grpc.TokenServiceStub(c) for c in channels]
    latencies: list[float] = []
    errors = 0
    loop = asyncio.get_running_loop()
    begin = loop.time() + warmup
    end = begin + seconds

    async def run(stub: ts_grpc.TokenServiceStub) -> None:
        nonlocal errors
        while loop.time() < end:
            started_at = loop.time()
            try:
                await stub.MintToken(request(), timeout=10)
                ok = True
            except grpc.aio.AioRpcError:
                ok = False
            done = loop.time()
            if begin <= started_at and done <= end:
                if ok:
                    latencies.append(done - started_at)
                else:
                    errors += 1

    await asyncio.gather(*(run(stubs[i % len(stubs)]) for i in range(concurrency)))
    for channel in channels:
        await channel.close()
    return {"latencies": latencies, "errors": errors}


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of ``values`` in milliseconds (nan when empty)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def measure(
    args: argparse.Namespace,
    workers: int,
    env: dict[str, str],
    redis_url: str,
    upstream: str,
    policy: pathlib.Path,
) -> dict[str, float]:
    """Start livetokens with ``workers`` workers, load it, stop it; one row."""
    port = free_port()
    argv = [
        sys.executable, "-m", "livetokens.server", "serve",
        "--listen", f"127.0.0.1:{port}", "--insecure-no-auth", "--upstream-url", upstream,
        "--state", redis_url, "--workers", str(workers), "--policy", str(policy),
        "--admin-listen", "off", "--health-listen", "off",
    ]  # fmt: skip
    with started(argv, env, port, f"livetokens --workers {workers}") as pid:
        time.sleep(1.0)  # every worker listening (the supervisor's port check sees one)
        load = [
            subprocess.Popen(  # noqa: S603 - this script, as a client
                [
                    sys.executable,
                    __file__,
                    "--client",
                    f"127.0.0.1:{port}",
                    "--concurrency",
                    str(args.concurrency),
                    "--warmup",
                    str(args.warmup),
                    "--seconds",
                    str(args.seconds),
                ],
                stdout=subprocess.PIPE,
            )
            for _ in range(args.clients)
        ]
        time.sleep(args.warmup)
        cpu_before = cpu_seconds(pid)
        time.sleep(args.seconds)
        cpu_after = cpu_seconds(pid)
        results = []
        for process in load:
            out, _ = process.communicate(timeout=args.seconds + args.warmup + 60)
            results.append(json.loads(out))
    latencies = [x for r in results for x in r["latencies"]]
    return {
        "workers": workers,
        "mints_per_s": len(latencies) / args.seconds,
        "p50_ms": percentile(latencies, 0.50),
        "p99_ms": percentile(latencies, 0.99),
        "errors": sum(int(r["errors"]) for r in results),
        "cores": (cpu_after - cpu_before) / args.seconds,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparison and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=64, help="calls in flight per client")
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--upstream-latency-ms", type=float, default=0.0)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--client", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.client:
        result = asyncio.run(client(args.client, args.concurrency, args.warmup, args.seconds))
        print(json.dumps(result))
        return 0
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        raise SystemExit("redis-server is not installed: run `make redis-server`")
    key = "bench-" + secrets.token_hex(8)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVETOKENS_", "GEMINI_"))}
    env.update(
        GEMINI_API_KEY=key, LIVETOKENS_FINGERPRINT_KEY="bench", LIVETOKENS_LOG_LEVEL="WARNING"
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="livetokens-bench-workers-") as tmp:
        policy = pathlib.Path(tmp, "policy.toml")
        policy.write_text('[callers.anonymous]\nrate = "1000000/s"\nburst = 1000000\n')
        redis_port, emulator_port = free_port(), free_port()
        redis_argv = [redis_server, "--bind", "127.0.0.1", "--port", str(redis_port),
                      "--save", "", "--appendonly", "no", "--dir", tmp,
                      "--maxmemory", "256mb", "--maxmemory-policy", "noeviction"]  # fmt: skip
        emulator_argv = [sys.executable, "-m", "livetokens.server", "emulator",
                         "--listen", f"127.0.0.1:{emulator_port}", "--api-key", key,
                         "--latency-ms", str(args.upstream_latency_ms)]  # fmt: skip
        with (
            started(redis_argv, env, redis_port, "redis-server"),
            started(emulator_argv, env, emulator_port, "emulator"),
        ):
            counts = [int(n) for n in args.workers.split(",")]
            for _ in range(args.repeat):
                for workers in counts:
                    rows.append(
                        measure(args, workers, env, f"redis://127.0.0.1:{redis_port}/0",
                                f"http://127.0.0.1:{emulator_port}", policy)
                    )  # fmt: skip
    print(
        f"\nlivetokens --workers N, --state redis (one redis-server), {args.clients} client "
        f"processes x {args.concurrency} in flight, fresh request_id per call, "
        f"{args.seconds:g}s windows, upstream latency {args.upstream_latency_ms:g} ms, "
        f"{os.cpu_count()} CPUs\n"
    )
    print("| workers | mints/s | p50 ms | p99 ms | errors | server CPU (cores) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for workers in counts:
        mine = [r for r in rows if r["workers"] == workers]
        med = {k: statistics.median(float(r[k]) for r in mine) for k in mine[0]}
        print(
            f"| {workers} | {med['mints_per_s']:.0f} | {med['p50_ms']:.1f} | "
            f"{med['p99_ms']:.1f} | {med['errors']:.0f} | {med['cores']:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
