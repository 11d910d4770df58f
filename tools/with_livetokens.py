"""Run a command against a live livetokens server backed by the upstream emulator.

    python tools/with_livetokens.py -- go test -tags contract ./...

Starts the emulator and a livetokens server (plaintext, callers not authenticated:
``insecure_no_auth`` on loopback) on free 127.0.0.1 ports in
this process, exports to the command:

- ``LIVETOKENS_TARGET``: ``127.0.0.1:<port>`` of the server;
- ``LIVETOKENS_SLOW_MODEL``: a model whose upstream answer the emulator delays by
  ``SLOW_SECONDS`` (for deadline scenarios);
- ``LIVETOKENS_MTLS_TARGET``: a second server that requires a client certificate from
  the test CA (``LIVETOKENS_CLIENT_CERT``/``LIVETOKENS_CLIENT_KEY`` is one);
- ``LIVETOKENS_TLS_TARGET``: a third server, TLS without client certificates, whose
  policy knows the bearer secret ``LIVETOKENS_BEARER_TOKEN``;
- ``LIVETOKENS_CA_FILE``: the test CA that signed both servers' certificate (a
  client using the system roots instead fails the TLS handshake);

runs the command, then drains the server and exits with the command's status. The
contract scenario every client language runs (clients/*/README.md) relies on this.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import pathlib
import secrets
import sys
import tempfile

from harness_pki import CLIENT_DNS_NAME, make_pki

from livetokens.emulator import Emulator, EmulatorConfig
from livetokens.server import RunningServer, Settings, UpstreamSettings, create_server
from livetokens.server.security.policy import hash_secret
from livetokens.server.settings import Secret, SecuritySettings

SLOW_MODEL = "slow-model"
SLOW_SECONDS = 3.0
# The command gets this long at most; the harness stops by itself afterwards.
COMMAND_TIMEOUT = 900.0


async def run(command: list[str]) -> int:
    key = "harness-" + secrets.token_hex(16)
    bearer = "harness-bearer-" + secrets.token_hex(16)
    config = EmulatorConfig(api_keys=frozenset({key}), model_latency={SLOW_MODEL: SLOW_SECONDS})
    with tempfile.TemporaryDirectory(prefix="with_livetokens-") as tmp:
        directory = pathlib.Path(tmp)
        pki = make_pki(directory)
        policy = directory / "policy.toml"
        policy.write_text(
            f'[callers."dns:{CLIENT_DNS_NAME}"]\n[callers.bearer]\n'
            f'credentials = ["{hash_secret(bearer)}"]\n'
        )
        async with Emulator(config) as emulator:
            base = Settings(
                listen="127.0.0.1:0",
                upstream=dataclasses.replace(UpstreamSettings(), base_url=emulator.base_url),
                api_key=Secret(key),
                grace_period=2.0,
                security=SecuritySettings(insecure_no_auth=True),
            )
            tls = SecuritySettings(
                tls_cert=pki.server_cert, tls_key=pki.server_key, policy_file=policy
            )
            mtls = dataclasses.replace(tls, tls_client_ca=pki.ca)
            servers: list[RunningServer] = []
            try:
                for security in (base.security, mtls, tls):
                    settings = dataclasses.replace(base, security=security)
                    servers.append(await create_server(settings))
                env = dict(os.environ)
                env["LIVETOKENS_TARGET"] = f"127.0.0.1:{servers[0].port}"
                env["LIVETOKENS_SLOW_MODEL"] = SLOW_MODEL
                env["LIVETOKENS_MTLS_TARGET"] = f"127.0.0.1:{servers[1].port}"
                env["LIVETOKENS_TLS_TARGET"] = f"127.0.0.1:{servers[2].port}"
                env["LIVETOKENS_CA_FILE"] = str(pki.ca)
                env["LIVETOKENS_CLIENT_CERT"] = str(pki.client_cert)
                env["LIVETOKENS_CLIENT_KEY"] = str(pki.client_key)
                env["LIVETOKENS_BEARER_TOKEN"] = bearer
                print(f"with_livetokens: server on {env['LIVETOKENS_TARGET']}", file=sys.stderr)
                return await _run_command(command, env)
            finally:
                for running in servers:
                    await running.stop(base.grace_period)


async def _run_command(command: list[str], env: dict[str, str]) -> int:
    process = await asyncio.create_subprocess_exec(*command, env=env)
    try:
        return await asyncio.wait_for(process.wait(), COMMAND_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        print(f"with_livetokens: command exceeded {COMMAND_TIMEOUT:g}s", file=sys.stderr)
        return 124


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
