"""Run a command against a live livetokens server backed by the upstream emulator.

    python tools/with_livetokens.py -- go test -tags contract ./...

Starts the emulator and a livetokens server (plaintext, callers not authenticated:
``insecure_no_auth`` on loopback) on free 127.0.0.1 ports in
this process, exports to the command:

- ``LIVETOKENS_TARGET``: ``127.0.0.1:<port>`` of the server;
- ``LIVETOKENS_SLOW_MODEL``: a model whose upstream answer the emulator delays by
  ``SLOW_SECONDS`` (for deadline scenarios);

runs the command, then drains the server and exits with the command's status. The
contract scenario every client language runs (clients/*/README.md) relies on this.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import secrets
import sys

from livetokens.emulator import Emulator, EmulatorConfig
from livetokens.server import Settings, UpstreamSettings, create_server
from livetokens.server.settings import Secret, SecuritySettings

SLOW_MODEL = "slow-model"
SLOW_SECONDS = 3.0
# The command gets this long at most; the harness stops by itself afterwards.
COMMAND_TIMEOUT = 900.0


async def run(command: list[str]) -> int:
    key = "harness-" + secrets.token_hex(16)
    config = EmulatorConfig(api_keys=frozenset({key}), model_latency={SLOW_MODEL: SLOW_SECONDS})
    async with Emulator(config) as emulator:
        settings = Settings(
            listen="127.0.0.1:0",
            upstream=dataclasses.replace(UpstreamSettings(), base_url=emulator.base_url),
            api_key=Secret(key),
            grace_period=2.0,
            security=SecuritySettings(insecure_no_auth=True),
        )
        running = await create_server(settings)
        env = dict(os.environ)
        env["LIVETOKENS_TARGET"] = f"127.0.0.1:{running.port}"
        env["LIVETOKENS_SLOW_MODEL"] = SLOW_MODEL
        print(f"with_livetokens: server on {env['LIVETOKENS_TARGET']}", file=sys.stderr)
        try:
            process = await asyncio.create_subprocess_exec(*command, env=env)
            try:
                return await asyncio.wait_for(process.wait(), COMMAND_TIMEOUT)
            except TimeoutError:
                process.kill()
                await process.wait()
                print(f"with_livetokens: command exceeded {COMMAND_TIMEOUT:g}s", file=sys.stderr)
                return 124
        finally:
            await running.stop(settings.grace_period)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give a command after --")
    return asyncio.run(run(command))


if __name__ == "__main__":
    raise SystemExit(main())
