"""The emulator as a process: options, the loud banner, and shutdown on SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import sys
from pathlib import Path

import httpx
import pytest

from livetokens.emulator import add_arguments, config_from_args, run_from_args

SECRET_KEY = "cli-secret-key-0123456789"
_URL = re.compile(r"http://127\.0\.0\.1:(\d+)")


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="livetokens emulator")
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_defaults() -> None:
    """--listen defaults to 127.0.0.1:8089 and nothing is injected by default."""
    args = _parse("--api-key", "k")
    assert args.listen == ("127.0.0.1", 8089)
    config = config_from_args(args)
    assert config.api_keys == frozenset({"k"})
    assert config.latency == 0.0
    assert not config.accept_live_connect_constraints
    assert args.error_rate == 0.0


def test_every_option_reaches_the_config(tmp_path: Path) -> None:
    """Keys from flags and files, latencies in ms, error rate and the lcc switch are all applied."""
    key_file = tmp_path / "keys.txt"
    key_file.write_text("# team keys\nfile-key-1\n\n  file-key-2  \n", encoding="utf-8")
    args = _parse(
        "--listen", "[::1]:9000",
        "--api-key", "flag-key",
        "--api-key-file", str(key_file),
        "--latency-ms", "250",
        "--error-rate", "0.25",
        "--error-status", "500",
        "--accept-live-connect-constraints",
        "--model-latency", "models/gemini-a=100",
        "--model-latency", "gemini-b=5",
        "--seed", "9",
    )  # fmt: skip
    config = config_from_args(args)
    assert args.listen == ("::1", 9000)
    assert config.api_keys == frozenset({"flag-key", "file-key-1", "file-key-2"})
    assert config.latency == pytest.approx(0.25)
    assert dict(config.model_latency) == {
        "gemini-a": pytest.approx(0.1),
        "gemini-b": pytest.approx(0.005),
    }
    assert config.accept_live_connect_constraints
    assert config.seed == 9
    assert (args.error_rate, args.error_status) == (0.25, 500)


@pytest.mark.parametrize(
    "argv",
    [
        ["--listen", "8089"],
        ["--listen", "host:port"],
        ["--error-rate", "1.5"],
        ["--error-status", "200"],
        ["--latency-ms", "-1"],
        ["--model-latency", "no-equals-sign"],
        ["--model-latency", "m=-5"],
    ],
)
def test_bad_options_are_usage_errors(argv: list[str]) -> None:
    """Malformed option values stop argparse with exit status 2."""
    with pytest.raises(SystemExit) as exited:
        _parse(*argv)
    assert exited.value.code == 2


async def test_no_key_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    """Without any --api-key the command refuses to start (it would refuse every request)."""
    with pytest.raises(SystemExit) as exited:
        await run_from_args(_parse("--listen", "127.0.0.1:0"))
    assert exited.value.code == 2
    assert "--api-key" in capsys.readouterr().err


async def test_run_from_args_serves_until_stopped(capsys: pytest.CaptureFixture[str]) -> None:
    """run_from_args prints one loud line with the URL, serves, and returns when stopped."""
    stop = asyncio.Event()
    args = _parse(
        "--listen", "127.0.0.1:0", "--api-key", SECRET_KEY,
        "--error-rate", "1", "--error-status", "500",
    )  # fmt: skip
    task = asyncio.create_task(run_from_args(args, stop=stop))
    err = ""
    for _ in range(500):
        err += capsys.readouterr().err
        if _URL.search(err) or task.done():
            break
        await asyncio.sleep(0.01)
    match = _URL.search(err)
    assert match is not None, err
    assert "EMULATOR" in err
    assert "NOT valid at Google" in err
    assert SECRET_KEY not in err
    async with httpx.AsyncClient(base_url=match.group(0)) as client:
        response = await client.post(
            "/v1alpha/auth_tokens", json={}, headers={"x-goog-api-key": SECRET_KEY}
        )
    assert response.status_code == 500  # --error-rate 1 with --error-status 500
    stop.set()
    await asyncio.wait_for(task, timeout=10)


async def test_module_runs_until_sigterm() -> None:
    """``python -m livetokens.emulator`` serves, never logs the key, and exits 0 on SIGTERM."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "livetokens.emulator",
        "--listen", "127.0.0.1:0", "--api-key", SECRET_KEY,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stderr is not None
    try:
        banner = (await asyncio.wait_for(process.stderr.readline(), timeout=20)).decode()
        match = _URL.search(banner)
        assert match is not None, banner
        async with httpx.AsyncClient(base_url=match.group(0)) as client:
            ok = await client.post("/v1beta/auth_tokens", params={"key": SECRET_KEY}, json={})
            denied = await client.post("/v1beta/auth_tokens", json={})
        assert ok.status_code == 200
        assert denied.status_code == 403
        name = ok.json()["name"]
        process.send_signal(signal.SIGTERM)
        rest = (await asyncio.wait_for(process.stderr.read(), timeout=20)).decode()
        assert await asyncio.wait_for(process.wait(), timeout=20) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    output = banner + rest
    assert "POST /v1beta/auth_tokens -> 200" in output  # the access log line
    assert SECRET_KEY not in output
    assert name not in output
