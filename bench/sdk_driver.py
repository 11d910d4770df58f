"""The google-genai SDK minting tokens directly, as ``make bench``'s reference row.

An app that skips livetokens would call Google with its own API key through the SDK
(``client.aio.auth_tokens.create``, the SDK's default aiohttp transport). This
process does exactly that against ``--base-url`` (the bench's stub upstream) with N
concurrent tasks, so livetokens' mint rate can be set beside it. Here the driver is
the client: the SDK is what is measured, so a Python driver is the right one.

    python bench/sdk_driver.py --base-url http://127.0.0.1:PORT --concurrency 16 \
        --warmup 1 --seconds 5

Prints one JSON object on stdout: ok, errors (by exception type), the window's length,
the latencies' p50/p99 in ms, and this process's CPU seconds during the window.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime
import json
import resource
import sys
import time
import warnings
from typing import Any

MODEL = "gemini-live-2.5-flash-preview"


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, max(0, int(q * len(values) + 0.5) - 1))]


async def run(base_url: str, concurrency: int, warmup: float, seconds: float) -> dict[str, Any]:
    """Load the stub for ``warmup`` then ``seconds``; the window's counts and CPU."""
    from google import genai
    from google.genai import types

    client = genai.Client(
        api_key="bench-" + "0" * 32,
        http_options=types.HttpOptions(base_url=base_url, api_version="v1alpha"),
    )

    def config() -> types.CreateAuthTokenConfig:
        # What livetokens sends for the bench's TokenRequest: 1 use, 30 min, 1 min to
        # start, the model and its config locked (AUDIO, temperature 0.7).
        now = datetime.datetime.now(datetime.UTC)
        return types.CreateAuthTokenConfig(
            uses=1,
            expire_time=now + datetime.timedelta(minutes=30),
            new_session_expire_time=now + datetime.timedelta(minutes=1),
            live_connect_constraints=types.LiveConnectConstraints(
                model=MODEL,
                config=types.LiveConnectConfig(
                    response_modalities=[types.Modality.AUDIO], temperature=0.7
                ),
            ),
        )

    window = {"open": False, "closed": False}
    ok = 0
    errors: collections.Counter[str] = collections.Counter()
    latencies: list[float] = []

    async def worker() -> None:
        nonlocal ok
        while not window["closed"]:
            started = time.perf_counter()
            try:
                token = await client.aio.auth_tokens.create(config=config())
                failed = None if (token.name or "").startswith("auth_tokens/") else "no name"
            except Exception as exc:  # noqa: BLE001 - every failure is counted by kind
                failed = type(exc).__name__
            if window["open"] and not window["closed"]:
                if failed is None:
                    ok += 1
                    latencies.append((time.perf_counter() - started) * 1000)
                else:
                    errors[failed] += 1

    tasks = [asyncio.create_task(worker()) for _ in range(concurrency)]
    await asyncio.sleep(warmup)
    window["open"] = True
    cpu0, t0 = _cpu_seconds(), time.perf_counter()
    await asyncio.sleep(seconds)
    window["closed"] = True
    cpu1, t1 = _cpu_seconds(), time.perf_counter()
    await asyncio.gather(*tasks)
    await client.aio.aclose()
    return {
        "ok": ok,
        "errors": dict(errors),
        "window_s": t1 - t0,
        "p50_ms": _percentile(latencies, 0.50),
        "p99_ms": _percentile(latencies, 0.99),
        "cpu_s": cpu1 - cpu0,
    }


def main() -> int:
    """Entry point: parse the flags, run, print the JSON result."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    # The SDK warns that token creation is experimental, and google-genai 3.6.1
    # subclasses aiohttp.ClientSession, which aiohttp 3.14 deprecates: not our business.
    warnings.simplefilter("ignore")
    result = asyncio.run(run(args.base_url, args.concurrency, args.warmup, args.seconds))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
