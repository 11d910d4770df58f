"""``make bench``: mints/s and latency of livetokens on loopback, per upstream transport.

A benchmark, not a test: it asserts nothing, it measures. It starts, each in its
own process, the upstream emulator (``livetokens emulator``), the livetokens server
(``livetokens serve --transport aiohttp|httpx`` against that emulator) and a bare
grpc.aio echo server (``bench/echo_server.py``: the grpc.aio ceiling), then drives
each target from this process with N concurrent workers looping on one call:

    echo                 MintToken on the echo server (no upstream)
    livetokens-aiohttp   MintToken on livetokens, httpx over httpx_aiohttp.AiohttpTransport
    livetokens-httpx     MintToken on livetokens, httpx's default AsyncHTTPTransport
    raw-aiohttp          GeminiTokenClient.create_token against the emulator (no gRPC)
    raw-httpx            the same with httpx's default transport

For each concurrency and each target in turn (interleaved, so that compared rows
share the same background load): a warm-up, then a fixed window in which every
call that completes is counted (ok or error) and its latency recorded. It prints
one Markdown table and writes ``bench/results/latest.json``. Everything listens on
127.0.0.1; every process it starts is stopped on the way out, Ctrl-C included.

    .venv/bin/python bench/mint_bench.py [--seconds 5] [--warmup 1]
        [--concurrency 1,16,64,256] [--targets echo,livetokens-aiohttp,...]
        [--repeat 1] [--upstream-latency-ms 0] [--json PATH] [--quick]

docs/benchmarks.md explains the columns and records the measured results.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import dataclasses
import datetime
import json
import logging
import math
import os
import pathlib
import platform
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc
from bench_support import (
    BenchError,
    Processes,
    child_env,
    free_port,
    livetokens,
    sigterm_interrupts,
    version,
)
from google.rpc import error_details_pb2, status_pb2

from livetokens.server.errors import Failure
from livetokens.server.settings import UpstreamSettings
from livetokens.server.translate import translate
from livetokens.server.upstream import GeminiTokenClient
from livetokens.v1 import live_config_pb2 as lc
from livetokens.v1 import token_service_pb2 as ts
from livetokens.v1 import token_service_pb2_grpc as ts_grpc

HERE = pathlib.Path(__file__).resolve().parent
RESULTS = HERE / "results" / "latest.json"
TARGETS = ("echo", "livetokens-aiohttp", "livetokens-httpx", "raw-aiohttp", "raw-httpx")
DEFAULT_CONCURRENCY = (1, 16, 64, 256)
QUICK_CONCURRENCY = (1, 16)
MODEL = "gemini-live-2.5-flash-preview"
CALL_TIMEOUT = 30.0  # seconds per call: long enough that an error is a real failure
DRAIN_TIMEOUT = 5.0  # seconds calls in flight get after a window before they are cancelled
START_TIMEOUT = 30.0  # seconds a process gets to start listening
PAUSE = 0.5  # seconds of quiet between two measurements

log = logging.getLogger("mint_bench")

Call = Callable[[], Awaitable[object]]


# --- processes ----------------------------------------------------------------------------

# The load generator calls without credentials, on loopback: no policy, no rate
# limit, no audit log, so the server does only what every mint must do.
_NO_AUTH = {"LIVETOKENS_INSECURE_NO_AUTH": "true"}


async def _wait_until(
    procs: Processes,
    name: str,
    proc: subprocess.Popen[bytes],
    ready: Callable[[], int | None],
) -> int:
    """Poll ``ready`` (a port, or None while not yet) until it answers or the child dies."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(
                f"{name} exited with status {proc.returncode} while starting:\n" + procs.tail(name)
            )
        port = ready()
        if port is not None:
            return port
        await asyncio.sleep(0.05)
    raise BenchError(f"{name} did not start within {START_TIMEOUT:g}s:\n" + procs.tail(name))


def _port_from_file(path: pathlib.Path) -> Callable[[], int | None]:
    def ready() -> int | None:
        try:
            text = path.read_text().strip()
        except FileNotFoundError:
            return None
        return int(text) if text.isdigit() else None

    return ready


def _port_accepting(port: int) -> Callable[[], int | None]:
    def ready() -> int | None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return port
        except OSError:
            return None

    return ready


async def start_emulator(procs: Processes, api_key: str, latency_ms: float) -> str:
    """Start ``livetokens emulator`` on a free loopback port; return its base URL."""
    port = free_port()
    argv = [*livetokens(), "emulator", "--listen", f"127.0.0.1:{port}", "--api-key", api_key]
    if latency_ms:
        argv += ["--latency-ms", f"{latency_ms:g}"]
    proc = procs.spawn("emulator", argv, child_env(**_NO_AUTH))
    await _wait_until(procs, "emulator", proc, _port_accepting(port))
    return f"http://127.0.0.1:{port}"


async def start_livetokens(
    procs: Processes, name: str, transport: str, upstream_url: str, api_key: str
) -> int:
    """Start ``livetokens serve --transport T`` against the emulator; return its port."""
    port_file = procs.logdir / f"{name}.port"
    argv = [
        *livetokens(),
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--port-file",
        str(port_file),
        "--upstream-url",
        upstream_url,
        "--transport",
        transport,
    ]
    proc = procs.spawn(name, argv, child_env(GEMINI_API_KEY=api_key, **_NO_AUTH))
    return await _wait_until(procs, name, proc, _port_from_file(port_file))


async def start_echo(procs: Processes) -> int:
    """Start ``bench/echo_server.py``; return its port."""
    port_file = procs.logdir / "echo.port"
    argv = [sys.executable, str(HERE / "echo_server.py"), "--port-file", str(port_file)]
    proc = procs.spawn("echo", argv, child_env(**_NO_AUTH))
    return await _wait_until(procs, "echo", proc, _port_from_file(port_file))


# --- measuring ----------------------------------------------------------------------------


_CLK_TCK = os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds used by the benchmark's own processes and by everything else.

    The machine is shared: another job's CPU use during a window lowers the
    numbers, and this says by how much it was there. Reads /proc, so Linux only;
    elsewhere every reading is 0.
    """

    def __init__(self, pids: Callable[[], Sequence[int]]) -> None:
        self._pids = pids

    def sample(self) -> tuple[float, float]:
        """(CPU seconds all processes have used since boot, those used by ours)."""
        try:
            fields = pathlib.Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        except OSError:
            return 0.0, 0.0
        # user nice system idle iowait irq softirq steal ...: busy = all but idle, iowait, steal
        values = [int(v) for v in fields[:8]]
        busy = sum(values) - values[3] - values[4] - values[7]
        ours = 0
        for pid in self._pids():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
                after_name = stat.rpartition(")")[2].split()
                ours += int(after_name[11]) + int(after_name[12])  # utime + stime
        return busy / _CLK_TCK, ours / _CLK_TCK


@dataclasses.dataclass
class Result:
    """One target at one concurrency, over one measurement window."""

    target: str
    concurrency: int
    window_s: float
    ok: int
    errors: int
    error_kinds: dict[str, int]
    mints_per_s: float
    p50_ms: float | None
    p99_ms: float | None
    bench_cpus: float
    other_cpus: float
    repetition: int = 0


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile ``q`` (0-100) of already sorted values; None when empty."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def _error_kind(exc: Exception) -> str:
    """A short, secret-free label for a failed call: gRPC code and ErrorInfo reason."""
    if isinstance(exc, grpc.aio.AioRpcError):
        label = exc.code().name
        for key, value in exc.trailing_metadata() or ():
            if key == "grpc-status-details-bin" and isinstance(value, bytes):
                with contextlib.suppress(Exception):
                    for detail in status_pb2.Status.FromString(value).details:
                        info = error_details_pb2.ErrorInfo()
                        if detail.Unpack(info):
                            label += f"/{info.reason}"
        return label
    if isinstance(exc, Failure):
        return exc.reason.value
    return type(exc).__name__


async def measure(
    target: str,
    call: Call,
    *,
    concurrency: int,
    warmup: float,
    seconds: float,
    cpu: CpuMeter,
) -> Result:
    """Run ``concurrency`` workers looping on ``call``; count what completes in the window.

    A call counts when it completes inside the window, whenever it started, so the
    window sees the steady state that the warm-up reached.
    """
    latencies: list[float] = []
    errors: collections.Counter[str] = collections.Counter()
    recording = False
    stopping = False

    async def worker() -> None:
        while not stopping:
            started = time.perf_counter()
            try:
                await call()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - every failure is counted, by kind
                if recording:
                    errors[_error_kind(exc)] += 1
            else:
                if recording:
                    latencies.append(time.perf_counter() - started)

    tasks = [asyncio.create_task(worker()) for _ in range(concurrency)]
    try:
        await asyncio.sleep(warmup)
        recording = True
        window_start = time.perf_counter()
        busy_start, ours_start = cpu.sample()
        await asyncio.sleep(seconds)
        recording = False
        window = time.perf_counter() - window_start
        busy_end, ours_end = cpu.sample()
        stopping = True
        _, pending = await asyncio.wait(tasks, timeout=DRAIN_TIMEOUT)
        for task in pending:
            task.cancel()
    finally:
        stopping = True
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    latencies.sort()
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    return Result(
        target=target,
        concurrency=concurrency,
        window_s=round(window, 3),
        ok=len(latencies),
        errors=sum(errors.values()),
        error_kinds=dict(errors),
        mints_per_s=round(len(latencies) / window, 1),
        p50_ms=None if p50 is None else round(p50 * 1000, 2),
        p99_ms=None if p99 is None else round(p99 * 1000, 2),
        bench_cpus=round((ours_end - ours_start) / window, 2),
        other_cpus=round(max(0.0, (busy_end - busy_start) - (ours_end - ours_start)) / window, 2),
    )


def token_request() -> ts.TokenRequest:
    """A valid, typical request: a model and a small locked config."""
    return ts.TokenRequest(
        constraints=ts.LiveConstraints(
            model=MODEL,
            config=lc.LiveConfig(response_modalities=[lc.MODALITY_AUDIO], temperature=0.7),
        )
    )


@contextlib.asynccontextmanager
async def grpc_call(port: int) -> Any:
    """One channel to 127.0.0.1:``port`` and a MintToken call on it, as every worker's loop."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        await asyncio.wait_for(channel.channel_ready(), timeout=START_TIMEOUT)
        stub = ts_grpc.TokenServiceStub(channel)
        request = token_request()

        async def call() -> object:
            return await stub.MintToken(request, timeout=CALL_TIMEOUT)

        yield call


@contextlib.asynccontextmanager
async def raw_call(transport: str, upstream_url: str, api_key: str) -> Any:
    """A GeminiTokenClient on ``transport`` and a create_token call, with no gRPC at all."""
    settings = UpstreamSettings(base_url=upstream_url, transport=transport)  # type: ignore[arg-type]
    client = GeminiTokenClient(settings, api_key)
    body = translate(token_request(), now=datetime.datetime.now(datetime.UTC)).body
    try:

        async def call() -> object:
            return await client.create_token(body, deadline=time.monotonic() + CALL_TIMEOUT)

        yield call
    finally:
        await client.aclose()


# --- the run ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Plan:
    """What to measure and for how long."""

    targets: tuple[str, ...]
    concurrency: tuple[int, ...]
    warmup: float
    seconds: float
    upstream_latency_ms: float = 0.0
    repeat: int = 1


async def run(plan: Plan, procs: Processes, report: Callable[[Result], None]) -> list[Result]:
    """Start every target the plan names, then measure them interleaved.

    The inner loop is the target, so the rows that are compared (aiohttp against
    httpx at the same concurrency) are measured back to back, under the same
    background load; outside it the concurrency, outermost the repetition. Idle
    targets cost next to nothing. Results come back in the order they were measured.
    """
    api_key = "bench-" + secrets.token_hex(16)
    upstream_url = ""
    if any(t != "echo" for t in plan.targets):
        upstream_url = await start_emulator(procs, api_key, plan.upstream_latency_ms)
    results: list[Result] = []
    cpu = CpuMeter(lambda: [os.getpid(), *procs.pids()])
    async with contextlib.AsyncExitStack() as stack:
        calls: dict[str, Call] = {}
        for target in plan.targets:
            kind, _, transport = target.partition("-")
            if kind == "echo":
                port = await start_echo(procs)
                calls[target] = await stack.enter_async_context(grpc_call(port))
            elif kind == "livetokens":
                port = await start_livetokens(procs, target, transport, upstream_url, api_key)
                calls[target] = await stack.enter_async_context(grpc_call(port))
            else:
                calls[target] = await stack.enter_async_context(
                    raw_call(transport, upstream_url, api_key)
                )
        for repetition in range(plan.repeat):
            for concurrency in plan.concurrency:
                for target in plan.targets:
                    await asyncio.sleep(PAUSE)
                    result = await measure(
                        target,
                        calls[target],
                        concurrency=concurrency,
                        warmup=plan.warmup,
                        seconds=plan.seconds,
                        cpu=cpu,
                    )
                    result = dataclasses.replace(result, repetition=repetition)
                    report(result)
                    results.append(result)
    return results


@dataclasses.dataclass(frozen=True)
class Row:
    """One table row: the repetition with the median mints/s, and the spread of all."""

    median: Result
    low: float
    high: float
    ok: int
    errors: int
    error_kinds: dict[str, int]


def summarize(results: Sequence[Result], plan: Plan) -> list[Row]:
    """One row per target and concurrency, in plan order (by target, then concurrency).

    With one repetition the row is that measurement. With more, its mints/s, p50,
    p99 and CPU columns are those of the median repetition (by mints/s; the lower
    middle one for an even count), ``low``/``high`` the range of mints/s, and
    ``ok``/``errors`` the totals over every repetition, so no error is hidden.
    """
    rows = []
    for target in plan.targets:
        for concurrency in plan.concurrency:
            runs = sorted(
                (r for r in results if r.target == target and r.concurrency == concurrency),
                key=lambda r: r.mints_per_s,
            )
            if not runs:
                continue
            kinds: collections.Counter[str] = collections.Counter()
            for r in runs:
                kinds.update(r.error_kinds)
            rows.append(
                Row(
                    median=runs[(len(runs) - 1) // 2],
                    low=runs[0].mints_per_s,
                    high=runs[-1].mints_per_s,
                    ok=sum(r.ok for r in runs),
                    errors=sum(r.errors for r in runs),
                    error_kinds=dict(kinds),
                )
            )
    return rows


# --- reporting ----------------------------------------------------------------------------


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": _cpu_model(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "grpcio": version("grpcio"),
        "protobuf": version("protobuf"),
        "httpx": version("httpx"),
        "httpcore": version("httpcore"),
        "aiohttp": version("aiohttp"),
        "httpx-aiohttp": version("httpx-aiohttp"),
        "loadavg_at_start": list(os.getloadavg()),
    }


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def markdown(rows: Sequence[Row], info: dict[str, Any], plan: Plan) -> str:
    """The rows as one Markdown table, preceded by the machine and the settings."""
    spread = plan.repeat > 1
    lines = [
        f"Machine: {info['nproc']} CPU ({info['cpu_model']}), Linux {info['kernel']}, "
        f"Python {info['python']}, grpcio {info['grpcio']}, httpx {info['httpx']} "
        f"(httpcore {info['httpcore']}), "
        f"aiohttp {info['aiohttp']}, httpx-aiohttp {info['httpx-aiohttp']}; "
        f"load average at start {info['loadavg_at_start'][0]:.2f}.",
        f"Each row: {plan.warmup:g}s warm-up, then a {plan.seconds:g}s window"
        + (
            f", repeated {plan.repeat} times (median repetition shown, range of mints/s, "
            "ok and errors summed)"
            if spread
            else ""
        )
        + f"; the emulator answers after {plan.upstream_latency_ms:g} ms; "
        "emulator, server and load generator share the machine.",
        "",
        "| target | in flight | mints/s | "
        + ("range | " if spread else "")
        + "ok | errors | p50 ms | p99 ms | CPU bench | CPU other |",
        "|---|--:|--:|" + ("--:|" if spread else "") + "--:|--:|--:|--:|--:|--:|",
    ]
    for row in rows:
        r = row.median
        errors = str(row.errors)
        if row.error_kinds:
            kinds = ", ".join(f"{k} {v}" for k, v in sorted(row.error_kinds.items()))
            errors += f" ({kinds})"
        lines.append(
            f"| {r.target} | {r.concurrency} | {r.mints_per_s:,.0f} | "
            + (f"{row.low:,.0f}-{row.high:,.0f} | " if spread else "")
            + f"{row.ok} | {errors} | {_ms(r.p50_ms)} | {_ms(r.p99_ms)} "
            f"| {r.bench_cpus:.2f} | {r.other_cpus:.2f} |"
        )
    return "\n".join(lines)


def _progress(result: Result) -> None:
    print(
        f"  {result.target:<20} {result.concurrency:>4} in flight: "
        f"{result.mints_per_s:>8,.1f}/s  ok {result.ok}  errors {result.errors}  "
        f"p50 {_ms(result.p50_ms)} ms  p99 {_ms(result.p99_ms)} ms  "
        f"CPU bench {result.bench_cpus:.2f} other {result.other_cpus:.2f}",
        file=sys.stderr,
        flush=True,
    )


# --- command line -------------------------------------------------------------------------


def _concurrency(text: str) -> tuple[int, ...]:
    try:
        values = tuple(dict.fromkeys(int(part) for part in text.split(",") if part.strip()))
    except ValueError:
        values = ()
    if not values or any(v < 1 or v > 4096 for v in values):
        raise argparse.ArgumentTypeError(f"expected e.g. 1,16,64,256 (each 1-4096), got {text!r}")
    return values


def _targets(text: str) -> tuple[str, ...]:
    values = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [v for v in values if v not in TARGETS]
    if not values or unknown:
        raise argparse.ArgumentTypeError(
            f"unknown target(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(TARGETS)}"
        )
    return values


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 120:
        raise argparse.ArgumentTypeError(f"expected seconds in (0, 120], got {text!r}")
    return value


def parse_args(argv: Sequence[str] | None) -> tuple[Plan, pathlib.Path]:
    """The plan from the command line (``--quick`` fills in short defaults)."""
    parser = argparse.ArgumentParser(
        description="Benchmark MintToken through livetokens (per upstream transport), the "
        "bare grpc.aio echo ceiling and the raw upstream client, on loopback.",
    )
    parser.add_argument(
        "--seconds", type=_seconds, help="measurement window per row (default 5; --quick 1)"
    )
    parser.add_argument(
        "--warmup", type=_seconds, help="warm-up before each window (default 1; --quick 0.3)"
    )
    parser.add_argument(
        "--concurrency",
        type=_concurrency,
        help="calls in flight, comma-separated (default 1,16,64,256; --quick 1,16)",
    )
    parser.add_argument(
        "--targets",
        type=_targets,
        default=TARGETS,
        help=f"comma-separated subset of {','.join(TARGETS)} (default all, in that order)",
    )
    parser.add_argument(
        "--upstream-latency-ms",
        type=float,
        default=0.0,
        metavar="MS",
        help="milliseconds the emulator waits before each answer, like Google's own latency "
        "(default 0: the emulator answers at once)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="measure every row N times and show the median (default 1; the machine is shared)",
    )
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument(
        "--json",
        type=pathlib.Path,
        default=RESULTS,
        help=f"where to write JSON (default {RESULTS})",
    )
    args = parser.parse_args(argv)
    plan = Plan(
        targets=args.targets,
        concurrency=args.concurrency or (QUICK_CONCURRENCY if args.quick else DEFAULT_CONCURRENCY),
        warmup=args.warmup or (0.3 if args.quick else 1.0),
        seconds=args.seconds or (1.0 if args.quick else 5.0),
        upstream_latency_ms=max(0.0, args.upstream_latency_ms),
        repeat=min(max(1, args.repeat), 10),
    )
    return plan, args.json


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print the table; write the JSON."""
    plan, json_path = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    info = machine()
    if info["loadavg_at_start"][0] > info["nproc"] / 2:
        print(
            f"mint_bench: warning: the machine is busy (load average "
            f"{info['loadavg_at_start'][0]:.2f} on {info['nproc']} CPUs); "
            "expect low, noisy numbers",
            file=sys.stderr,
            flush=True,
        )
    windows = len(plan.targets) * len(plan.concurrency) * plan.repeat
    budget = windows * (PAUSE + plan.warmup + plan.seconds)
    print(
        f"mint_bench: {windows} measurements, about {budget:.0f}s of load "
        f"({plan.warmup:g}s warm-up + {plan.seconds:g}s window each)",
        file=sys.stderr,
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="mint_bench-") as tmp, sigterm_interrupts():
        procs = Processes(pathlib.Path(tmp))
        try:
            results = asyncio.run(run(plan, procs, _progress))
        except KeyboardInterrupt:
            print("mint_bench: interrupted; stopping the processes it started", file=sys.stderr)
            return 130
        except BenchError as exc:
            print(f"mint_bench: {exc}", file=sys.stderr)
            return 1
        finally:
            procs.stop_all()
    info["loadavg_at_end"] = list(os.getloadavg())
    rows = summarize(results, plan)
    print(markdown(rows, info, plan))
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(
        json.dumps(
            {
                "machine": info,
                "plan": dataclasses.asdict(plan),
                "rows": [dataclasses.asdict(row) for row in rows],
                "results": [dataclasses.asdict(r) for r in results],
            },
            indent=2,
        )
        + "\n"
    )
    print(f"\nJSON: {json_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
