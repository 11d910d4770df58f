"""`livetokens demo` runs the whole flow in one command and prints no secret."""

from __future__ import annotations

import asyncio
import re
import sys


async def test_demo_command_holds_a_session_and_prints_only_fingerprints() -> None:
    """The demo exits 0 after six steps and an echoed turn; no token name or API key is shown."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "livetokens.server",
        "demo",
        "--text",
        "ping from the test",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout_b, stderr_b = await asyncio.wait_for(process.communicate(), 45)
    stdout, stderr = stdout_b.decode(), stderr_b.decode()
    assert process.returncode == 0, stdout + stderr
    steps = re.findall(r"^\[(\d)/6\] ", stdout, flags=re.MULTILINE)
    assert steps == ["1", "2", "3", "4", "5", "6"]
    assert "model said 'ping from the test'" in stdout
    assert re.search(r"minted token hmac-sha256:[0-9a-f]{32}", stdout)
    assert '"temperature": 0.2' in stdout  # the locked value, not the app's 0.9
    assert '"topP": 0.5' in stdout  # the app's unlocked value
    assert stdout.rstrip().endswith("demo OK")
    for text in (stdout, stderr):
        assert "auth_tokens/" not in text
        assert not re.search(r"demo-[0-9a-f]{32}", text)
