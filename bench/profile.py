"""``make profile``: where livetokens spends its CPU per mint, sampled with py-spy.

Starts the stub upstream and one livetokens server (as ``make bench`` does; with
--secure, the security-on configuration), loads it with h2load for --seconds, and
samples the server with ``py-spy record`` meanwhile. Prints the top functions by
own time ("self") and by time including callees ("total"), aggregated by function
(not line), as Markdown; keeps the collapsed stacks in bench/results/ (open them in
https://www.speedscope.app or feed them to flamegraph.pl).

    .venv/bin/python bench/profile.py [--seconds 10] [--concurrency 16] [--secure] [--native]
"""

from __future__ import annotations

import argparse
import collections
import datetime
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import threading

import bench  # bench/bench.py: the same processes and request as `make bench`

_FRAME = re.compile(r"^(.*) \((.*?)(?::\d+)?\)$")


def top(raw: pathlib.Path, count: int) -> str:
    """Top ``count`` functions by self and by total samples, as two Markdown tables."""
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, n_text = line.rpartition(" ")
        if not n_text.isdigit():
            continue
        n = int(n_text)
        samples += n
        frames = []
        for frame in stack.split(";"):
            match = _FRAME.match(frame)
            frames.append(f"{match[1]} ({match[2]})" if match else frame)
        own[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n
    out = [f"{samples} samples", "", "| self % | function (file) |", "|--:|---|"]
    out += [f"| {100 * c / samples:.1f} | `{f}` |" for f, c in own.most_common(count)]
    out += ["", "| total % | function (file) |", "|--:|---|"]
    skip = ("<module>", "run (", "Runner.run", "main (", "BaseEventLoop.run", "_run_")
    shown = [(f, c) for f, c in total.most_common() if not f.startswith(skip)]
    out += [f"| {100 * c / samples:.1f} | `{f}` |" for f, c in shown[:count]]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Profile one livetokens server under load; print the top functions."""
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    p.add_argument("--secure", action="store_true", help="bearer, policy, rate limit, audit")
    p.add_argument("--native", action="store_true", help="include C frames (grpc, libc)")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--out", type=pathlib.Path, help="collapsed stacks (default bench/results/)")
    a = p.parse_args(argv)
    target = "livetokens-secure" if a.secure else "livetokens"
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = a.out or bench.RESULTS / f"profile-{target}-{stamp}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    py_spy = pathlib.Path(sys.executable).with_name("py-spy")
    with tempfile.TemporaryDirectory(prefix="profile-") as tmp:
        procs = bench.Processes(pathlib.Path(tmp))
        try:
            setup = bench.start_all(procs, [target])
            server = setup.servers[target]
            frame = pathlib.Path(tmp) / "request.bin"
            frame.write_bytes(bench.request_frame())
            bench._h2load(server, frame, a.concurrency, 1.0, None)  # warm-up
            load = threading.Thread(
                target=bench._h2load,
                args=(server, frame, a.concurrency, a.seconds + 2, None),
                daemon=True,
            )
            load.start()
            argv_spy = [str(py_spy), "record", "-p", str(server.pid), "-d", f"{a.seconds:g}"]
            argv_spy += ["-r", str(a.rate), "-f", "raw", "-o", str(out)]
            if a.native:
                argv_spy.append("--native")
            load1 = os.getloadavg()[0]
            subprocess.run(argv_spy, check=True, capture_output=True)  # noqa: S603
            load.join()
        finally:
            procs.stop_all()
    print(
        f"{target}, {a.concurrency} in flight, {a.seconds:g}s at {a.rate} Hz, "
        f"load average {load1:.1f} on {os.cpu_count()} CPUs\n"
    )
    print(top(out, a.top))
    print(f"\ncollapsed stacks: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
