"""``make bench``: livetokens' mint rate, latency and CPU per mint, beside the bare
grpc.aio echo and the google-genai SDK, measured interleaved in one run.

A benchmark, not a test: it asserts nothing. Every process runs on its own, on
127.0.0.1:

    stub                 bench/stub_upstream.py: a minimal HTTP/1.1 keep-alive upstream
    emulator             ``livetokens emulator`` (the full imitation of Google)
    echo                 bench/echo_server.py: grpc.aio answering a fixed Token
    livetokens           ``livetokens serve --insecure-no-auth`` against the stub
    livetokens-emulator  the same against the emulator
    livetokens-secure    against the stub with a bearer secret, a policy file, the
                         rate limiter (a rate too high to refuse) and the fsync'd audit log
    sdk                  bench/sdk_driver.py: google-genai's ``aio.auth_tokens.create``
                         straight at the stub, no gRPC (the SDK is its own driver)

The gRPC targets are driven by h2load (Debian's nghttp2-client: C, one connection
with N concurrent streams, little CPU), never by Python. For each concurrency, each
target in turn (and with --repeat, the whole sweep again): a pause, a warm-up run,
then the measured run. The server's CPU comes from /proc/<pid>/stat around the
measured run. gRPC errors travel in trailers, which h2load does not read, so each
livetokens server's log is checked for refusals ("mint refused"/"mint failed")
during the run and those count as errors.

    .venv/bin/python bench/bench.py [--seconds 5] [--warmup 1]
        [--concurrency 1,16,64,256] [--targets echo,livetokens,...] [--repeat 1]
        [--json PATH] [--plot PATH] [--quick]

docs/benchmarks.md explains the columns and records a run.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import hashlib
import json
import os
import pathlib
import platform
import re
import secrets
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any

import bench_support
from bench_support import (
    BenchError,
    child_env,
    free_port,
    livetokens,
    sigterm_interrupts,
    version,
)

from livetokens.v1 import live_config_pb2 as lc
from livetokens.v1 import token_service_pb2 as ts

HERE = pathlib.Path(__file__).resolve().parent
RESULTS = HERE / "results"
TARGETS = ("echo", "livetokens", "livetokens-emulator", "livetokens-secure", "sdk")
# Not in the default set: livetokens from another source tree (--before DIR), to measure
# a change against its baseline in the same interleaved run.
BEFORE = "livetokens-before"
# Opt-in too: `serve --workers 2` (two processes on one SO_REUSEPORT port), driven over
# two connections so that the kernel gives each worker one; CPU is the workers' sum.
WORKERS2 = "livetokens-workers2"
EXTRA_TARGETS = (BEFORE, WORKERS2)
GRPC_TARGETS = ("echo", "livetokens", "livetokens-emulator", "livetokens-secure")
DEFAULT_CONCURRENCY = (1, 16, 64, 256)
MODEL = "gemini-live-2.5-flash-preview"
METHOD = "/livetokens.v1.TokenService/MintToken"
START_TIMEOUT = 60.0
PAUSE = 0.5
_CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- processes ----------------------------------------------------------------------------


class Processes(bench_support.Processes):
    """Child processes that :meth:`start` waits for until they listen."""

    def start(self, name: str, argv: Sequence[str], env: dict[str, str], port: int = 0) -> int:
        """Start ``argv`` as ``name``; wait for its ``--port-file`` (or, given ``port``,
        for ``port`` to accept connections); return the port."""
        port_file = self.logdir / f"{name}.port"
        if port:
            argv = [*argv, "--listen", f"127.0.0.1:{port}"]
        else:
            argv = [*argv, "--port-file", str(port_file)]
        proc = self.spawn(name, argv, env)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise BenchError(f"{name} exited ({proc.returncode}):\n{self.tail(name)}")
            if port:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                    return port
            else:
                with contextlib.suppress(FileNotFoundError, ValueError):
                    return int(port_file.read_text().strip())
            time.sleep(0.05)
        raise BenchError(f"{name} did not start in {START_TIMEOUT:g}s:\n{self.tail(name)}")


@dataclasses.dataclass
class Server:
    """A gRPC target: its port, its process, its log (None: no refusal log to read)."""

    port: int
    pid: int
    log: pathlib.Path | None
    headers: tuple[str, ...] = ()
    connections: int = 1


@dataclasses.dataclass
class Setup:
    """Everything started for one run."""

    servers: dict[str, Server]
    stub_url: str
    helper_pids: list[int]  # stub and emulator: their CPU is reported, not charged


def _policy(secret_hash: str) -> str:
    return f"""version = 1
[callers.bench]
credentials = ["{secret_hash}"]
models = ["{MODEL}"]
response_modalities = ["AUDIO"]
max_uses = 10
max_lifetime = "2h"
rate = "1000000/s"
burst = 1000000
"""


def start_all(
    procs: Processes, targets: Sequence[str], before: pathlib.Path | None = None
) -> Setup:
    """Start the stub, and the emulator and servers the chosen targets need."""
    tmp = procs.logdir
    key = "bench-" + secrets.token_hex(16)
    stub_port = procs.start("stub", [sys.executable, str(HERE / "stub_upstream.py")], child_env())
    stub_url = f"http://127.0.0.1:{stub_port}"
    helpers = [procs.procs["stub"].pid]
    servers: dict[str, Server] = {}
    serve = [*livetokens(), "serve", "--listen", "127.0.0.1:0"]
    insecure = child_env(GEMINI_API_KEY=key, LIVETOKENS_INSECURE_NO_AUTH="true")
    if "echo" in targets:
        port = procs.start("echo", [sys.executable, str(HERE / "echo_server.py")], child_env())
        servers["echo"] = Server(port, procs.procs["echo"].pid, None)
    if "livetokens" in targets:
        port = procs.start("livetokens", [*serve, "--upstream-url", stub_url], insecure)
        servers["livetokens"] = Server(port, procs.procs["livetokens"].pid, procs.log("livetokens"))
    if BEFORE in targets and before is not None:
        env = dict(insecure, PYTHONPATH=str(before / "service"))
        port = procs.start(BEFORE, [*serve, "--upstream-url", stub_url], env)
        servers[BEFORE] = Server(port, procs.procs[BEFORE].pid, procs.log(BEFORE))
    if WORKERS2 in targets:
        argv = [*serve, "--upstream-url", stub_url, "--workers", "2", "--accept-per-worker-state"]
        port = procs.start(WORKERS2, argv, insecure)
        servers[WORKERS2] = Server(port, procs.procs[WORKERS2].pid, procs.log(WORKERS2), (), 2)
    if "livetokens-emulator" in targets:
        emu = procs.start(
            "emulator", [*livetokens(), "emulator", "--api-key", key], child_env(), free_port()
        )
        helpers.append(procs.procs["emulator"].pid)
        name = "livetokens-emulator"
        port = procs.start(name, [*serve, "--upstream-url", f"http://127.0.0.1:{emu}"], insecure)
        servers[name] = Server(port, procs.procs[name].pid, procs.log(name))
    if "livetokens-secure" in targets:
        secret = secrets.token_urlsafe(32)
        policy = tmp / "policy.toml"
        policy.write_text(_policy("sha256:" + hashlib.sha256(secret.encode()).hexdigest()))
        name = "livetokens-secure"
        argv = [
            *serve,
            "--upstream-url",
            stub_url,
            "--policy",
            str(policy),
            "--audit-log",
            str(tmp / "audit.jsonl"),
        ]
        port = procs.start(name, argv, child_env(GEMINI_API_KEY=key))
        servers[name] = Server(
            port, procs.procs[name].pid, procs.log(name), (f"authorization: Bearer {secret}",)
        )
    return Setup(servers, stub_url, helpers)


# --- measuring ----------------------------------------------------------------------------


def request_frame() -> bytes:
    """The gRPC frame of the bench's TokenRequest: a typical valid one (full lock)."""
    request = ts.TokenRequest(
        constraints=ts.LiveConstraints(
            model=MODEL,
            config=lc.LiveConfig(response_modalities=[lc.MODALITY_AUDIO], temperature=0.7),
        )
    )
    body = request.SerializeToString()
    return b"\x00" + struct.pack(">I", len(body)) + body


def _stat(pid: int) -> list[str]:
    try:
        return pathlib.Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return []


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` and of its children still running, from /proc."""
    pids = [pid]
    for entry in pathlib.Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) and fields[1] == str(pid):
            pids.append(int(entry.name))
    total = 0
    for one in pids:
        if fields := _stat(one):
            total += int(fields[11]) + int(fields[12])
    return total / _CLK_TCK


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy since boot."""
    values = [int(v) for v in pathlib.Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(values) - values[3] - values[4] - values[7]) / _CLK_TCK


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile of sorted ``values``."""
    if not values:
        return None
    return values[min(len(values) - 1, max(0, round(q * len(values) + 0.5) - 1))]


_REFUSED = re.compile(rb"mint refused|mint failed")


def _log_size(path: pathlib.Path | None) -> int:
    return path.stat().st_size if path is not None else 0


def _refusals(path: pathlib.Path | None, offset: int) -> int:
    if path is None:
        return 0
    with path.open("rb") as f:
        f.seek(offset)
        return len(_REFUSED.findall(f.read()))


@dataclasses.dataclass
class Result:
    """One target at one concurrency in one repetition."""

    target: str
    concurrency: int
    repetition: int
    window_s: float
    ok: int
    errors: int
    mints_per_s: float
    p50_ms: float | None
    p99_ms: float | None
    cpu_s_per_1000: float | None  # the server's (sdk: the SDK process's) CPU per 1,000 mints
    helper_cpus: float  # stub/emulator CPUs during the window
    machine_cpus: float  # busy CPUs of the whole machine during the window
    load1: float


def _h2load(
    server: Server, frame: pathlib.Path, concurrency: int, seconds: float, log: pathlib.Path | None
) -> dict[str, int]:
    connections = min(server.connections, concurrency)
    argv = ["h2load", f"-c{connections}", "-t1", f"-m{max(1, concurrency // connections)}"]
    argv += ["-D", f"{round(seconds * 1000)}ms", "-d", str(frame)]
    for header in ("content-type: application/grpc", "te: trailers", *server.headers):
        argv += ["-H", header]
    if log is not None:
        argv += ["--log-file", str(log)]
    argv.append(f"http://127.0.0.1:{server.port}{METHOD}")
    out = subprocess.run(  # noqa: S603 - h2load from the Makefile, our arguments
        argv, capture_output=True, text=True, timeout=seconds + 60, check=False
    ).stdout
    counts = re.search(r"requests: .*?(\d+) succeeded, (\d+) failed, (\d+) errored", out)
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    if counts is None or codes is None:
        raise BenchError(f"h2load printed no result:\n{out}")
    return {
        "succeeded": int(counts[1]),
        "failed": int(counts[2]) + int(counts[3]),
        "non_2xx": sum(int(codes[i]) for i in (2, 3, 4)),
    }


def measure_grpc(
    setup: Setup, target: str, concurrency: int, plan: Plan, frame: pathlib.Path, rep: int
) -> Result:
    """Warm up, then one measured h2load run against ``target``."""
    server = setup.servers[target]
    _h2load(server, frame, concurrency, plan.warmup, None)
    log = frame.parent / "h2load-requests.log"
    log.unlink(missing_ok=True)  # h2load appends to it
    offset = _log_size(server.log)
    load1 = os.getloadavg()[0]
    cpu0, helpers0, busy0 = cpu_seconds(server.pid), _helpers_cpu(setup), machine_busy()
    t0 = time.monotonic()
    counts = _h2load(server, frame, concurrency, plan.seconds, log)
    window = time.monotonic() - t0
    cpu1, helpers1, busy1 = cpu_seconds(server.pid), _helpers_cpu(setup), machine_busy()
    # h2load's per-request log: start (µs since the epoch), HTTP status, duration (µs).
    latencies = sorted(
        int(line.split("\t")[2]) / 1000
        for line in log.read_text().splitlines()
        if line.count("\t") >= 2 and line.split("\t")[1] == "200"
    )
    errors = counts["failed"] + counts["non_2xx"] + _refusals(server.log, offset)
    ok = max(0, counts["succeeded"] - _refusals(server.log, offset))
    return Result(
        target=target,
        concurrency=concurrency,
        repetition=rep,
        window_s=plan.seconds,
        ok=ok,
        errors=errors,
        mints_per_s=ok / plan.seconds,
        p50_ms=percentile(latencies, 0.50),
        p99_ms=percentile(latencies, 0.99),
        cpu_s_per_1000=(cpu1 - cpu0) / ok * 1000 if ok else None,
        helper_cpus=(helpers1 - helpers0) / window,
        machine_cpus=(busy1 - busy0) / window,
        load1=load1,
    )


def _helpers_cpu(setup: Setup) -> float:
    return sum(cpu_seconds(pid) for pid in setup.helper_pids)


def measure_sdk(setup: Setup, concurrency: int, plan: Plan, rep: int) -> Result:
    """One run of bench/sdk_driver.py (its own warm-up, then the window)."""
    load1 = os.getloadavg()[0]
    helpers0, busy0 = _helpers_cpu(setup), machine_busy()
    argv = [
        sys.executable,
        str(HERE / "sdk_driver.py"),
        "--base-url",
        setup.stub_url,
        "--concurrency",
        str(concurrency),
        "--warmup",
        f"{plan.warmup:g}",
        "--seconds",
        f"{plan.seconds:g}",
    ]
    t0 = time.monotonic()
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        argv,
        capture_output=True,
        text=True,
        timeout=plan.seconds + 120,
        check=False,
        env=child_env(),
    )
    wall = time.monotonic() - t0
    if done.returncode != 0:
        raise BenchError(f"sdk_driver failed ({done.returncode}):\n{done.stderr[-2000:]}")
    out = json.loads(done.stdout)
    # Helper and machine CPU cover the driver's whole life (start-up and warm-up too).
    ok = int(out["ok"])
    return Result(
        target="sdk",
        concurrency=concurrency,
        repetition=rep,
        window_s=out["window_s"],
        ok=ok,
        errors=sum(out["errors"].values()),
        mints_per_s=ok / out["window_s"],
        p50_ms=out["p50_ms"],
        p99_ms=out["p99_ms"],
        cpu_s_per_1000=out["cpu_s"] / ok * 1000 if ok else None,
        helper_cpus=(_helpers_cpu(setup) - helpers0) / wall,
        machine_cpus=(machine_busy() - busy0) / wall,
        load1=load1,
    )


@dataclasses.dataclass(frozen=True)
class Plan:
    """What to measure."""

    targets: tuple[str, ...]
    concurrency: tuple[int, ...]
    seconds: float
    warmup: float
    repeat: int
    before: pathlib.Path | None = None


def run(plan: Plan, procs: Processes) -> list[Result]:
    """Start everything, then measure every (concurrency, target) interleaved."""
    setup = start_all(procs, plan.targets, plan.before)
    frame = procs.logdir / "request.bin"
    frame.write_bytes(request_frame())
    results: list[Result] = []
    for rep in range(plan.repeat):
        for concurrency in plan.concurrency:
            for target in plan.targets:
                time.sleep(PAUSE)
                if target == "sdk":
                    result = measure_sdk(setup, concurrency, plan, rep)
                else:
                    result = measure_grpc(setup, target, concurrency, plan, frame, rep)
                results.append(result)
                print(
                    f"  rep {rep + 1} {target:20s} {concurrency:4d} in flight: "
                    f"{result.mints_per_s:8,.0f}/s p50 {_ms(result.p50_ms)} ms "
                    f"p99 {_ms(result.p99_ms)} ms CPU/1k {_num(result.cpu_s_per_1000, 3)} s "
                    f"errors {result.errors} load {result.load1:.1f}",
                    file=sys.stderr,
                    flush=True,
                )
    return results


# --- summarizing --------------------------------------------------------------------------


def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def summarize(results: Sequence[Result], plan: Plan) -> dict[tuple[str, int], dict[str, Any]]:
    """Per (target, concurrency): the median over repetitions of each figure."""
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    for target in plan.targets:
        for n in plan.concurrency:
            group = [r for r in results if r.target == target and r.concurrency == n]
            rates = [r.mints_per_s for r in group]
            rows[(target, n)] = {
                "target": target,
                "concurrency": n,
                "mints_per_s": _median(rates),
                "range": [min(rates), max(rates)] if rates else None,
                "ok": sum(r.ok for r in group),
                "errors": sum(r.errors for r in group),
                "p50_ms": _median([r.p50_ms for r in group]),
                "p99_ms": _median([r.p99_ms for r in group]),
                "cpu_s_per_1000": _median([r.cpu_s_per_1000 for r in group]),
                "helper_cpus": _median([r.helper_cpus for r in group]),
                "machine_cpus": _median([r.machine_cpus for r in group]),
                "load1": _median([r.load1 for r in group]),
            }
    return rows


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def ratios(rows: dict[tuple[str, int], dict[str, Any]], plan: Plan) -> dict[str, Any]:
    """The issue's targets, each computed from rows measured side by side."""

    def rate(target: str, n: int) -> float | None:
        row = rows.get((target, n))
        return None if row is None else row["mints_per_s"]

    out: dict[str, Any] = {"per_concurrency": {}, "no_collapse": {}, "added_p50_ms_at_1": {}}
    for n in plan.concurrency:
        out["per_concurrency"][n] = {
            f"{t}/{base}": _ratio(rate(t, n), rate(base, n))
            for t in ("livetokens", "livetokens-secure", "livetokens-emulator", *EXTRA_TARGETS)
            for base in ("echo", "sdk")
            if (t, n) in rows
        }
    if 16 in plan.concurrency and 256 in plan.concurrency:
        for t in plan.targets:
            out["no_collapse"][t] = _ratio(rate(t, 256), rate(t, 16))
    if 1 in plan.concurrency and ("echo", 1) in rows:
        echo = rows[("echo", 1)]["p50_ms"]
        for t in ("livetokens", "livetokens-secure", "livetokens-emulator", *EXTRA_TARGETS):
            if (t, 1) in rows and echo is not None and rows[(t, 1)]["p50_ms"] is not None:
                out["added_p50_ms_at_1"][t] = rows[(t, 1)]["p50_ms"] - echo
    return out


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def markdown(
    rows: dict[tuple[str, int], dict[str, Any]], summary: dict[str, Any], plan: Plan
) -> str:
    """The rows, the ratios and the targets as Markdown."""
    rng = plan.repeat > 1
    lines = [
        "| target | in flight | mints/s |"
        + (" range |" if rng else "")
        + " ok | errors | p50 ms | p99 ms | CPU s / 1,000 mints | stub/emu CPUs | machine CPUs"
        " | load |",
        "|---|--:|--:|" + ("--:|" if rng else "") + "--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in rows.values():
        span = row["range"]
        lines.append(
            f"| {row['target']} | {row['concurrency']} | {_num(row['mints_per_s'], 0)} |"
            + (f" {span[0]:,.0f}-{span[1]:,.0f} |" if rng and span else "")
            + f" {row['ok']} | {row['errors']} | {_ms(row['p50_ms'])} | {_ms(row['p99_ms'])} |"
            f" {_num(row['cpu_s_per_1000'], 3)} | {_num(row['helper_cpus'])} |"
            f" {_num(row['machine_cpus'])} | {_num(row['load1'], 1)} |"
        )
    lines += ["", "| in flight | " + " | ".join(next(iter(summary["per_concurrency"].values())))]
    lines[-1] += " |"
    width = len(next(iter(summary["per_concurrency"].values())))
    lines.append("|--:|" + "--:|" * width)
    for n, values in summary["per_concurrency"].items():
        lines.append(f"| {n} | " + " | ".join(_num(v) for v in values.values()) + " |")
    lines.append("")
    for t, v in summary["no_collapse"].items():
        lines.append(f"- no collapse, {t}: rate@256 / rate@16 = {_num(v)}")
    for t, v in summary["added_p50_ms_at_1"].items():
        lines.append(f"- p50 added over echo at 1 in flight, {t}: {_ms(v)} ms")
    return "\n".join(lines)


def plot(
    rows: dict[tuple[str, int], dict[str, Any]], plan: Plan, path: pathlib.Path, title: str
) -> None:
    """mints/s and p99 against concurrency, one line per target, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for target in plan.targets:
        xs = [n for n in plan.concurrency if rows[(target, n)]["mints_per_s"]]
        left.plot(xs, [rows[(target, n)]["mints_per_s"] for n in xs], marker="o", label=target)
        right.plot(xs, [rows[(target, n)]["p99_ms"] for n in xs], marker="o", label=target)
    for ax, label in ((left, "mints/s (median)"), (right, "p99 latency, ms (median)")):
        ax.set_xscale("log", base=2)
        ax.set_xticks(list(plan.concurrency), [str(n) for n in plan.concurrency])
        ax.set_xlabel("calls in flight")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    right.set_yscale("log")
    left.legend(fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    h2load = subprocess.run(
        ["h2load", "--version"],  # noqa: S607 - installed by the Makefile, found on PATH
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "h2load": h2load,
        **{d: version(d) for d in ("grpcio", "protobuf", "httpx", "aiohttp", "google-genai")},
        "loadavg_at_start": list(os.getloadavg()),
    }


# --- command line -------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> tuple[Plan, pathlib.Path, pathlib.Path]:
    """The plan and where the JSON and the plot go."""
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--seconds", type=float, help="measured window per row (default 5)")
    p.add_argument("--warmup", type=float, help="warm-up run before each window (default 1)")
    p.add_argument("--concurrency", help="calls in flight, comma-separated (default 1,16,64,256)")
    p.add_argument(
        "--targets",
        help=f"comma-separated, of {','.join(TARGETS)} (the default) and {WORKERS2}",
    )
    p.add_argument("--repeat", type=int, default=1, help="sweeps; rows show the median")
    p.add_argument("--json", type=pathlib.Path, help="default bench/results/bench-<time>.json")
    p.add_argument("--plot", type=pathlib.Path, help="default next to the JSON, .png")
    p.add_argument("--quick", action="store_true", help="1 s windows, 0.3 s warm-up, 1 and 16")
    p.add_argument(
        "--before",
        type=pathlib.Path,
        help=f"a source tree (e.g. `git worktree add /tmp/base main`): adds target {BEFORE}, "
        "livetokens run from that tree's service/, to compare a change with its baseline",
    )
    a = p.parse_args(argv)
    targets = tuple(a.targets.split(",")) if a.targets else TARGETS
    if a.before is not None and BEFORE not in targets:
        targets = (*targets[:2], BEFORE, *targets[2:])
    unknown = [t for t in targets if t not in (*TARGETS, *EXTRA_TARGETS)]
    if unknown:
        p.error(f"unknown targets {unknown}; choose from {','.join(TARGETS)}")
    concurrency = (
        tuple(int(n) for n in a.concurrency.split(","))
        if a.concurrency
        else ((1, 16) if a.quick else DEFAULT_CONCURRENCY)
    )
    plan = Plan(
        targets=targets,
        concurrency=concurrency,
        seconds=a.seconds or (1.0 if a.quick else 5.0),
        warmup=a.warmup or (0.3 if a.quick else 1.0),
        repeat=max(1, a.repeat),
        before=a.before.resolve() if a.before else None,
    )
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    json_path = a.json or RESULTS / f"bench-{stamp}.json"
    return plan, json_path, a.plot or json_path.with_suffix(".png")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print the tables; write the JSON and the plot."""
    plan, json_path, plot_path = parse_args(argv)
    if shutil.which("h2load") is None:
        print(
            "bench: h2load is missing; `make bench` installs it (nghttp2-client)", file=sys.stderr
        )
        return 1
    info = machine()
    rows_n = len(plan.targets) * len(plan.concurrency) * plan.repeat
    print(
        f"bench: {rows_n} measurements of {plan.warmup:g}s warm-up + {plan.seconds:g}s; "
        f"load average {info['loadavg_at_start'][0]:.2f} on {info['nproc']} CPUs",
        file=sys.stderr,
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp, sigterm_interrupts():
        procs = Processes(pathlib.Path(tmp))
        try:
            results = run(plan, procs)
        except KeyboardInterrupt:
            print("bench: interrupted; stopping the processes it started", file=sys.stderr)
            return 130
        except BenchError as exc:
            print(f"bench: {exc}", file=sys.stderr)
            return 1
        finally:
            procs.stop_all()
    info["loadavg_at_end"] = list(os.getloadavg())
    rows = summarize(results, plan)
    summary = ratios(rows, plan)
    load = f"load average {info['loadavg_at_start'][0]:.1f} → {info['loadavg_at_end'][0]:.1f}"
    print(f"\n{load} on {info['nproc']} CPUs; median of {plan.repeat} interleaved sweep(s)\n")
    print(markdown(rows, summary, plan))
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(
        json.dumps(
            {
                "machine": info,
                "plan": {**dataclasses.asdict(plan), "before": str(plan.before)},
                "rows": list(rows.values()),
                "ratios": summary,
                "results": [dataclasses.asdict(r) for r in results],
            },
            indent=2,
        )
        + "\n"
    )
    title = (
        f"livetokens make bench, {datetime.date.today()}: {info['nproc']} CPUs shared, {load}, "
        f"median of {plan.repeat}, {plan.seconds:g}s windows"
    )
    plot(rows, plan, plot_path, title)
    print(f"\nJSON: {json_path}\nplot: {plot_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
