"""The `livetokens` process: `serve` with the bundled emulator, SIGTERM drain, the CLI."""

from __future__ import annotations

import asyncio
import json
import pathlib
import signal
import subprocess
import sys
from collections.abc import AsyncIterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from lt_support import child_env, port_written

from livetokens.server.cli import main, parse_span
from livetokens.v1 import token_service_pb2 as ts
from livetokens.v1 import token_service_pb2_grpc as ts_grpc

SLOW = "slow-model"


def serve_env() -> dict[str, str]:
    return child_env(LIVETOKENS_DRAIN_DELAY="0")


@pytest.fixture
async def served(tmp_path: pathlib.Path) -> AsyncIterator[tuple[asyncio.subprocess.Process, int]]:
    """`livetokens serve --emulator` (no key, the bundled emulator), on 127.0.0.1:0."""
    port_file = tmp_path / "port"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "livetokens.server",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--insecure-no-auth",
        "--emulator",
        "--port-file",
        str(port_file),
        "--emulator-model-latency",
        f"{SLOW}=1.5",
        env=serve_env(),
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(20):
            await port_written(port_file)
        yield process, int(port_file.read_text())
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def test_serve_with_emulator_uses_the_emulator_and_says_so(
    served: tuple[asyncio.subprocess.Process, int],
) -> None:
    """--emulator: the server mints from the bundled emulator and warns loudly."""
    process, port = served
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        token = await ts_grpc.TokenServiceStub(channel).MintToken(ts.TokenRequest(), timeout=5)
    assert token.name.startswith("auth_tokens/")
    process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), 15) == 0
    assert process.stderr is not None
    log = (await process.stderr.read()).decode()
    assert "BUNDLED UPSTREAM EMULATOR" in log
    assert "NOT valid at Google" in log
    assert token.name not in log


async def test_sigterm_drains_an_in_flight_mint_and_reports_not_serving(
    served: tuple[asyncio.subprocess.Process, int],
) -> None:
    """On SIGTERM: health goes NOT_SERVING, the mint in flight completes, the process exits 0."""
    process, port = served
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        watch = health.Watch(health_pb2.HealthCheckRequest(service="livetokens.v1.TokenService"))
        first = await watch.read()
        assert first.status == health_pb2.HealthCheckResponse.SERVING
        request = ts.TokenRequest(constraints=ts.LiveConstraints(model=SLOW))
        mint = asyncio.ensure_future(
            ts_grpc.TokenServiceStub(channel).MintToken(request, timeout=10)
        )
        await asyncio.sleep(0.5)  # the emulator holds this mint for 1.5 s
        assert not mint.done()
        process.send_signal(signal.SIGTERM)
        update = await watch.read()
        assert update.status == health_pb2.HealthCheckResponse.NOT_SERVING
        token = await mint
        assert token.model == f"models/{SLOW}"
    assert await asyncio.wait_for(process.wait(), 15) == 0


async def test_cli_mint_prints_the_token_as_json(
    served: tuple[asyncio.subprocess.Process, int],
) -> None:
    """`livetokens mint` calls a running server and prints the Token as JSON."""
    _, port = served
    result = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable, "-m", "livetokens.server", "mint", "--target", f"127.0.0.1:{port}",
            "--model", "gemini-live-2.5-flash-preview", "--modality", "AUDIO",
            "--temperature", "0.7", "--session-resumption", "--lock", "set-fields",
            "--lock-field", "output_audio_transcription", "--uses", "0", "--lifetime", "1h",
        ],
        capture_output=True, text=True, timeout=30, check=False, env=serve_env(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    token = json.loads(result.stdout)
    assert token["uses"] == 0  # unlimited, printed even though it is the zero value
    assert token["lock"]["fieldPaths"] == [
        "model",
        "generationConfig.responseModalities",
        "generationConfig.temperature",
        "sessionResumption",
        "outputAudioTranscription",
    ]


async def test_cli_mint_prints_decoded_errors(
    served: tuple[asyncio.subprocess.Process, int],
) -> None:
    """A refused mint prints code, reason and field violations, and exits 1."""
    _, port = served
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "livetokens.server", "mint", "--target", f"127.0.0.1:{port}",
         "--model", "m", "--temperature", "9"],
        capture_output=True, text=True, timeout=30, check=False, env=serve_env(),
    )  # fmt: skip
    assert result.returncode == 1
    error = json.loads(result.stderr[result.stderr.index("{") :])
    assert (error["code"], error["reason"]) == ("INVALID_ARGUMENT", "INVALID_REQUEST")
    assert [v["field"] for v in error["fieldViolations"]] == ["constraints.config.temperature"]


def test_help_documents_every_subcommand_and_the_environment(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--help explains serve, mint and emulator; serve --help lists the environment."""
    with pytest.raises(SystemExit):
        main(["--help"])
    top = capsys.readouterr().out
    for command in ("serve", "mint", "emulator"):
        assert command in top
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    serve_help = capsys.readouterr().out
    assert "GEMINI_API_KEY_FILE" in serve_help
    assert "LIVETOKENS_UPSTREAM_READ_TIMEOUT" in serve_help


def test_bad_settings_exit_2_naming_the_setting(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An invalid environment value is reported by name, with exit status 2."""
    monkeypatch.setenv("LIVETOKENS_UPSTREAM_READ_TIMEOUT", "soon")
    assert main(["serve"]) == 2
    assert "LIVETOKENS_UPSTREAM_READ_TIMEOUT" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("30m", 1800), ("1h30m", 5400), ("2.5", 2.5), ("0.5s", 0.5)]
)
def test_durations_on_the_command_line(text: str, seconds: float) -> None:
    """--lifetime and --new-session-window accept 90s, 30m, 1h30m or seconds."""
    assert parse_span(text).total_seconds() == seconds
