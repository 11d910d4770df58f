"""The bundled emulator runs only when asked for: no key and no --emulator stops start-up."""

from __future__ import annotations

import os

import pytest

from livetokens.server.cli import check_upstream, main, upstream_for
from livetokens.server.settings import SettingsError, from_env


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No GEMINI_* or LIVETOKENS_* variable from the developer's shell."""
    for name in list(os.environ):
        if name.startswith(("GEMINI_", "LIVETOKENS_")):
            monkeypatch.delenv(name)


@pytest.mark.usefixtures("clean_env")
def test_serve_without_a_key_and_without_emulator_refuses_to_start(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A pod whose key secret failed to mount exits 2 naming the missing secret, even with
    TLS-less loopback settings that would otherwise start."""
    assert main(["serve", "--listen", "127.0.0.1:0", "--insecure-no-auth"]) == 2
    err = capsys.readouterr().err
    assert "GEMINI_API_KEY" in err
    assert "GEMINI_API_KEY_FILE" in err
    assert "BUNDLED UPSTREAM EMULATOR" not in err


def test_the_emulator_is_only_used_on_explicit_request() -> None:
    """from_env: LIVETOKENS_EMULATOR=true asks for it; a key alone never does; both at
    once, or the emulator with an upstream URL, are contradictions."""
    assert from_env({"LIVETOKENS_EMULATOR": "true"}).security.emulator is True
    assert from_env({}).security.emulator is False
    with pytest.raises(SettingsError, match="GEMINI_API_KEY"):
        check_upstream(from_env({}))
    check_upstream(from_env({"LIVETOKENS_EMULATOR": "true"}))
    check_upstream(from_env({"GEMINI_API_KEY": "k" * 20}))
    with pytest.raises(SettingsError, match="both"):
        check_upstream(from_env({"GEMINI_API_KEY": "k" * 20}, emulator=True))
    with pytest.raises(SettingsError, match="upstream URL"):
        check_upstream(from_env({"LIVETOKENS_UPSTREAM_URL": "http://127.0.0.1:9"}, emulator=True))


async def test_emulator_flag_starts_the_bundled_emulator_on_loopback() -> None:
    """With --emulator the settings point at a fresh emulator with a random key."""
    settings = from_env({}, emulator=True)
    async with upstream_for(settings, {}) as effective:
        assert effective.upstream.base_url.startswith("http://127.0.0.1:")
        assert effective.api_key is not None


async def test_model_latency_needs_the_emulator() -> None:
    """--emulator-model-latency without --emulator is a mistake, not a silent no-op."""
    with pytest.raises(SettingsError, match="only applies with --emulator"):
        async with upstream_for(from_env({"GEMINI_API_KEY": "k" * 20}), {"m": 1.0}):
            pass
