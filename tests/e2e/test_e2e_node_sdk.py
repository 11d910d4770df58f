"""End to end from Node: an app using @google/genai (2.32.0, pinned in tests/e2e/node)
opens a Live session with a token minted through livetokens.

The JS SDK sends the token as ``?access_token=`` (the Python SDK uses the header), and
trusts the emulator's test CA through ``NODE_EXTRA_CA_CERTS``. `make test-python`
installs the package with ``npm ci`` (`make e2e-node-deps`); when pytest is run directly
and it is missing, the test runs that Makefile target itself, and fails (never skips)
when it cannot.
"""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import shutil
import subprocess

import pytest
from e2e_support import sessions_of

from livetokens.emulator import Emulator, LoopbackTLS
from livetokens.v1 import live_config_pb2 as lc
from livetokens.v1 import token_service_pb2 as ts
from livetokens.v1 import token_service_pb2_grpc as ts_grpc

NODE_DIR = pathlib.Path(__file__).parent / "node"
REPO = NODE_DIR.parents[2]
MODEL = "gemini-live-2.5-flash-preview"


@pytest.fixture(scope="module")
def node() -> str:
    """The node executable, with tests/e2e/node's pinned packages installed."""
    node = shutil.which("node")
    assert node, "node is not installed: the Makefile's prerequisites install it"
    if not (NODE_DIR / "node_modules" / ".npm-ci-stamp").is_file():
        done = subprocess.run(
            ["make", "--no-print-directory", "-C", str(REPO), "e2e-node-deps"],  # noqa: S607
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    assert (NODE_DIR / "node_modules" / "@google" / "genai").is_dir()
    return node


@pytest.mark.timeout(300)  # the first run may install the npm packages
async def test_node_app_starts_a_session_as_token_lock_says(
    node: str,
    stub: ts_grpc.TokenServiceStub,
    emulator: Emulator,
    tls: LoopbackTLS,
    tmp_path: pathlib.Path,
) -> None:
    """@google/genai in Node connects with the token; locked fields win, the rest are the app's."""
    request = ts.TokenRequest(
        constraints=ts.LiveConstraints(
            model=MODEL,
            config=lc.LiveConfig(response_modalities=[lc.MODALITY_TEXT], temperature=0.25),
        ),
        lock=ts.Lock(mode=ts.LOCK_MODE_SET_FIELDS),
    )
    token = await stub.MintToken(request)
    app = {
        "token": token.name,
        "baseUrl": emulator.base_url,
        "model": "gemini-2.0-flash-live-001",
        "config": {"responseModalities": ["AUDIO"], "temperature": 0.9, "topP": 0.5},
        "text": "hello from node",
    }
    env = {**os.environ, "NODE_EXTRA_CA_CERTS": str(tls.write_ca(tmp_path / "ca.pem"))}
    process = await asyncio.create_subprocess_exec(
        node,
        "scenario.mjs",
        cwd=NODE_DIR,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(json.dumps(app).encode()), 45)
    assert process.returncode == 0, stderr.decode()
    assert token.name not in stdout.decode() + stderr.decode()
    result = json.loads(stdout.decode().strip().splitlines()[-1])
    assert result["setupComplete"] is True
    assert (result["ended"], result["reply"]) == ("turnComplete", "hello from node")

    [seen] = await sessions_of(emulator, token.name, tls.client)
    assert list(token.lock.field_paths) == [
        "model",
        "generationConfig.responseModalities",
        "generationConfig.temperature",
    ]
    assert seen["effectiveSetup"]["model"] == f"models/{MODEL}"
    assert seen["effectiveSetup"]["generationConfig"] == {
        "responseModalities": ["TEXT"],
        "temperature": 0.25,
        "topP": 0.5,
    }
    # The JS SDK passed the token in the query string, which the emulator redacts.
    [upgrade] = [r for r in emulator.requests if r.status == 101]
    assert upgrade.query["access_token"] == "<redacted>"
