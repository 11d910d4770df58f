"""``make sizing``: the CPU and memory one livetokens process uses under load.

The Helm chart's resource requests and limits come from this measurement (values.yaml
names the command and the numbers). It starts, on 127.0.0.1, the upstream emulator
(``livetokens emulator --latency-ms``, Google-like latency) and ``livetokens serve``
against it, each in its own process; records the server's resident memory at idle;
then drives MintToken with N concurrent callers for a fixed window and reads the
server's CPU seconds (``/proc/PID/stat`` utime + stime) and peak resident memory
(``VmHWM``). A benchmark, not a test: it prints numbers and asserts nothing. The load
generator shares the machine, so the mints/s are a floor.

    .venv/bin/python deploy/sizing.py [--seconds 20] [--concurrency 64] [--latency-ms 100]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import pathlib
import re
import secrets
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator

import grpc

from livetokens.v1 import token_service_pb2 as ts
from livetokens.v1 import token_service_pb2_grpc as ts_grpc

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def memory_mib(pid: int, field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of the process, in MiB."""
    status = pathlib.Path(f"/proc/{pid}/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else float("nan")


@contextlib.asynccontextmanager
async def process(*args: str, env: dict[str, str]) -> AsyncIterator[asyncio.subprocess.Process]:
    """A child process, terminated on the way out."""
    proc = await asyncio.create_subprocess_exec(
        *args, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def read_until(proc: asyncio.subprocess.Process, pattern: str) -> re.Match[str]:
    """The first stderr line of ``proc`` matching ``pattern`` (within 30 s)."""
    assert proc.stderr is not None
    async with asyncio.timeout(30):
        while line := (await proc.stderr.readline()).decode():
            if match := re.search(pattern, line):
                return match
    raise RuntimeError(f"process exited before printing {pattern!r}")


async def drain_stderr(proc: asyncio.subprocess.Process) -> None:
    """Keep reading the child's stderr so its pipe never fills."""
    assert proc.stderr is not None
    while await proc.stderr.readline():
        pass


async def load(port: int, concurrency: int, seconds: float) -> tuple[int, int]:
    """(ok, failed) MintToken calls completed by ``concurrency`` loops in ``seconds``."""
    counts = [0, 0]
    deadline = time.monotonic() + seconds
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = ts_grpc.TokenServiceStub(channel)

        async def worker() -> None:
            while time.monotonic() < deadline:
                try:
                    await stub.MintToken(ts.TokenRequest(), timeout=10)
                    counts[0] += 1
                except grpc.aio.AioRpcError:
                    counts[1] += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return counts[0], counts[1]


async def measure(args: argparse.Namespace) -> None:
    """Start the emulator and the server, measure idle and loaded, print the numbers."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GEMINI_", "LIVETOKENS_"))}
    key = "sizing-" + secrets.token_hex(8)
    livetokens = [sys.executable, "-m", "livetokens.server"]
    async with process(
        *livetokens,
        "emulator",
        "--listen",
        "127.0.0.1:0",
        "--api-key",
        key,
        "--latency-ms",
        str(args.latency_ms),
        env=env,
    ) as emulator:
        url = (await read_until(emulator, r"Listening on (http://\S+)")).group(1)
        drainer = asyncio.create_task(drain_stderr(emulator))
        with tempfile.TemporaryDirectory() as tmp:
            port_file = pathlib.Path(tmp) / "port"
            server_env = env | {"GEMINI_API_KEY": key}
            async with process(
                *livetokens,
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--insecure-no-auth",
                "--admin-listen",
                "127.0.0.1:0",
                "--health-listen",
                "127.0.0.1:0",
                "--upstream-url",
                url,
                "--port-file",
                str(port_file),
                env=server_env,
            ) as server:
                server_drainer = asyncio.create_task(drain_stderr(server))
                async with asyncio.timeout(30):
                    while not port_file.exists() or not port_file.read_text().strip():  # noqa: ASYNC110
                        await asyncio.sleep(0.05)
                port = int(port_file.read_text())
                await load(port, 1, 1.0)  # warm up: imports, first connection
                idle = memory_mib(server.pid, "VmRSS")
                await load(port, args.concurrency, args.warmup)
                cpu_before, started = cpu_seconds(server.pid), time.monotonic()
                ok, failed = await load(port, args.concurrency, args.seconds)
                elapsed = time.monotonic() - started
                cores = (cpu_seconds(server.pid) - cpu_before) / elapsed
                peak = memory_mib(server.pid, "VmHWM")
                server_drainer.cancel()
        drainer.cancel()
    print(
        f"livetokens sizing: {args.concurrency} callers in flight, {args.seconds:.0f} s, "
        f"upstream latency {args.latency_ms:.0f} ms, {os.cpu_count()} CPUs shared with the "
        "load generator and the emulator\n"
        f"  mints/s          {ok / elapsed:,.0f} ok, {failed / elapsed:,.1f} failed\n"
        f"  server CPU       {cores:.2f} cores ({cores / max(ok / elapsed, 1e-9) * 1000:.2f} "
        "CPU-ms per mint)\n"
        f"  server memory    {idle:.0f} MiB resident at idle, {peak:.0f} MiB peak under load"
    )


def main() -> None:
    """Parse the flags and run the measurement."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up under load")
    parser.add_argument("--concurrency", type=int, default=64, help="calls in flight")
    parser.add_argument("--latency-ms", type=float, default=100.0, help="emulated upstream latency")
    asyncio.run(measure(parser.parse_args()))


if __name__ == "__main__":
    main()
