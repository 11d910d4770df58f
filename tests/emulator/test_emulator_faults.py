"""Fault injection: scripted failures in FIFO order, seeded error rates, latency (spec §10)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
from emulator_helpers import KEY, NOW, Mint, details_of, error_of

from livetokens.emulator import Emulator, EmulatorConfig, Fault


async def test_status_fault_applies_count_times_then_recovers(
    emulator: Emulator, mint: Mint
) -> None:
    """Fault.status(503, count=2): two 503 UNAVAILABLE answers, then minting works again."""
    emulator.faults.push(Fault.status(503, count=2))
    first, second, third = [await mint({}) for _ in range(3)]
    for failed in (first, second):
        assert failed.status_code == 503
        assert error_of(failed)["status"] == "UNAVAILABLE"
    assert third.status_code == 200
    assert list(emulator.tokens) == [third.json()["name"]]
    assert [r.fault for r in emulator.requests] == ["status", "status", None]
    assert emulator.faults.pending == []


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (500, "INTERNAL"),
        (503, "UNAVAILABLE"),
        (504, "DEADLINE_EXCEEDED"),
        (400, "INVALID_ARGUMENT"),
    ],
)
async def test_status_fault_uses_googles_body(
    mint: Mint, emulator: Emulator, code: int, status: str
) -> None:
    """Each injected status comes with its canonical status name in Google's error shape."""
    emulator.faults.push(Fault.status(code, message="scripted"))
    response = await mint({})
    assert response.status_code == code
    error = error_of(response)
    assert error["status"] == status
    assert error["message"] == "scripted"


async def test_faults_apply_first_in_first_out(emulator: Emulator, mint: Mint) -> None:
    """Queued faults apply in the order they were pushed, each for its count."""
    emulator.faults.push(Fault.status(500))
    emulator.faults.push(Fault.status(503, count=2))
    statuses = [(await mint({})).status_code for _ in range(4)]
    assert statuses == [500, 503, 503, 200]


async def test_faults_come_before_the_key_check(emulator: Emulator, mint: Mint) -> None:
    """An injected outage answers even a request with a bad key (the outage is in front)."""
    emulator.faults.push(Fault.status(503))
    assert (await mint({}, key="wrong")).status_code == 503
    assert (await mint({}, key="wrong")).status_code == 400


async def test_rate_limited_body_has_retry_info_and_quota_failure(
    emulator: Emulator, mint: Mint
) -> None:
    """Fault.rate_limited(25): 429 with RetryInfo "25s", QuotaFailure and Help."""
    emulator.faults.push(Fault.rate_limited(retry_delay_s=25, count=1))
    response = await mint({})
    assert response.status_code == 429
    error = error_of(response)
    assert error["status"] == "RESOURCE_EXHAUSTED"
    [retry] = details_of(error, "RetryInfo")
    assert retry["retryDelay"] == "25s"
    [quota] = details_of(error, "QuotaFailure")
    assert quota["violations"]
    assert {"quotaMetric", "quotaId", "quotaValue"} <= set(quota["violations"][0])
    [help_] = details_of(error, "Help")
    assert help_["links"][0]["url"].startswith("https://")
    assert (await mint({})).status_code == 200


async def test_rate_limited_fractional_delay(emulator: Emulator, mint: Mint) -> None:
    """A fractional retry delay is written as a JSON Duration ("1.5s")."""
    emulator.faults.push(Fault.rate_limited(retry_delay_s=1.5))
    [retry] = details_of(error_of(await mint({})), "RetryInfo")
    assert retry["retryDelay"] == "1.5s"


async def test_reset_gives_a_transport_error(emulator: Emulator, mint: Mint) -> None:
    """Fault.reset(): the connection drops without an answer; httpx raises a TransportError."""
    emulator.faults.push(Fault.reset(count=1))
    with pytest.raises(httpx.TransportError):
        await mint({})
    assert emulator.requests[-1].status is None
    assert emulator.requests[-1].fault == "reset"
    assert emulator.tokens == {}
    assert (await mint({})).status_code == 200


async def test_malformed_answers_200_without_a_name(emulator: Emulator, mint: Mint) -> None:
    """Fault.malformed(): 200 whose JSON body has no name, and no token is stored."""
    emulator.faults.push(Fault.malformed(count=1))
    response = await mint({})
    assert response.status_code == 200
    assert "name" not in response.json()
    assert emulator.tokens == {}


async def test_malformed_can_script_any_body(mint: Mint, emulator: Emulator) -> None:
    """Fault.malformed(body=…, status=…) answers exactly that, e.g. an HTML 502 page."""
    page = b"<html><body>502 Bad Gateway</body></html>"
    emulator.faults.push(Fault.malformed(body=page, status=502, content_type="text/html"))
    response = await mint({})
    assert response.status_code == 502
    assert response.content == page
    assert response.headers["content-type"].startswith("text/html")


async def test_latency_fault_is_recorded_and_answer_is_normal(
    emulator: Emulator, mint: Mint
) -> None:
    """Fault.latency(0.2): the answer is the normal one and the record shows 0.2 s added."""
    emulator.faults.push(Fault.latency(0.2, count=1))
    delayed = await mint({})
    assert delayed.status_code == 200
    assert emulator.requests[-1].fault == "latency"
    assert emulator.requests[-1].added_latency_s == pytest.approx(0.2)
    await mint({})
    assert emulator.requests[-1].added_latency_s == 0.0


async def test_fault_limited_to_one_api_version(emulator: Emulator, mint: Mint) -> None:
    """A fault with api_version="v1beta" skips v1alpha requests and waits for a v1beta one."""
    emulator.faults.push(Fault.status(503, api_version="v1beta"))
    assert (await mint({}, version="v1alpha")).status_code == 200
    assert (await mint({}, version="v1beta")).status_code == 503
    assert (await mint({}, version="v1beta")).status_code == 200


async def test_fault_without_count_applies_until_cleared(emulator: Emulator, mint: Mint) -> None:
    """count=None keeps the fault for every request until faults.clear()."""
    emulator.faults.push(Fault.status(500, count=None))
    assert [(await mint({})).status_code for _ in range(5)] == [500] * 5
    emulator.faults.clear()
    assert (await mint({})).status_code == 200


async def test_faults_do_not_touch_other_paths(emulator: Emulator, http: httpx.AsyncClient) -> None:
    """A 404 path does not consume a queued fault."""
    emulator.faults.push(Fault.status(503))
    assert (await http.post("/v1/auth_tokens", json={})).status_code == 404
    assert len(emulator.faults.pending) == 1


async def _statuses(seed: int, rate: float, n: int) -> list[int]:
    config = EmulatorConfig(api_keys=frozenset({KEY}), seed=seed, clock=lambda: NOW)
    async with (
        Emulator(config) as emu,
        httpx.AsyncClient(base_url=emu.base_url, headers={"x-goog-api-key": KEY}) as client,
    ):
        emu.faults.set_error_rate(rate, status=503)
        return [(await client.post("/v1alpha/auth_tokens", json={})).status_code for _ in range(n)]


async def test_error_rate_is_seeded_and_deterministic() -> None:
    """The same seed gives the same failures in the same order; the rate is roughly honoured."""
    first = await _statuses(seed=42, rate=0.5, n=40)
    second = await _statuses(seed=42, rate=0.5, n=40)
    assert first == second
    assert set(first) == {200, 503}
    assert 8 <= first.count(503) <= 32  # binomial(40, 0.5) lies here with p > 0.9999
    assert await _statuses(seed=7, rate=0.5, n=40) != first


async def test_error_rate_extremes_and_clear(emulator: Emulator, mint: Mint) -> None:
    """Rate 1 fails every request with the chosen status; clear() turns it off."""
    emulator.faults.set_error_rate(1.0, status=500)
    responses = [await mint({}) for _ in range(3)]
    assert [r.status_code for r in responses] == [500, 500, 500]
    assert emulator.requests[-1].fault == "error_rate"
    assert error_of(responses[0])["status"] == "INTERNAL"
    emulator.faults.clear()
    assert (await mint({})).status_code == 200


async def test_queued_fault_takes_precedence_over_error_rate(
    emulator: Emulator, mint: Mint
) -> None:
    """A queued fault applies before the error rate is drawn."""
    emulator.faults.set_error_rate(1.0, status=500)
    emulator.faults.push(Fault.rate_limited())
    assert [(await mint({})).status_code for _ in range(2)] == [429, 500]


@pytest.mark.parametrize(
    "emulator_config",
    [
        EmulatorConfig(
            api_keys=frozenset({KEY}),
            latency=0.01,
            model_latency={"gemini-slow": 0.05, "models/gemini-slower": 0.07},
            clock=lambda: NOW,
        )
    ],
)
async def test_model_latency_applies_only_to_that_model(emulator: Emulator, mint: Mint) -> None:
    """model_latency adds its delay only when the setup's model matches, with or without models/."""
    cases = [
        ({"bidiGenerateContentSetup": {"model": "models/gemini-slow"}}, 0.06),
        ({"bidiGenerateContentSetup": {"model": "gemini-slow"}}, 0.06),
        ({"bidiGenerateContentSetup": {"model": "gemini-slower"}}, 0.08),
        ({"bidiGenerateContentSetup": {"model": "models/gemini-fast"}}, 0.01),
        ({}, 0.01),
    ]
    for body, expected in cases:
        assert (await mint(body)).status_code == 200
        assert emulator.requests[-1].added_latency_s == pytest.approx(expected)


async def test_stop_answers_requests_still_being_delayed(emulator: Emulator, mint: Mint) -> None:
    """Stopping the emulator wakes a delayed answer instead of cutting the connection."""
    emulator.faults.push(Fault.latency(30.0))
    pending = asyncio.create_task(mint({}))
    for _ in range(500):
        if emulator.requests:
            break
        await asyncio.sleep(0.01)
    assert emulator.requests[-1].added_latency_s == pytest.approx(30.0)
    await emulator.stop()
    response = await pending
    assert response.status_code == 200


@pytest.mark.parametrize(
    "make",
    [
        lambda: Fault.status(503, count=0),
        lambda: Fault.status(200),
        lambda: Fault.latency(-1.0),
        lambda: Fault.rate_limited(retry_delay_s=-1),
    ],
)
def test_invalid_faults_are_refused(make: Callable[[], Fault]) -> None:
    """Counts below 1, non-error statuses and negative delays raise ValueError."""
    with pytest.raises(ValueError, match=r"."):
        make()


async def test_error_rate_must_be_a_probability(emulator: Emulator) -> None:
    """set_error_rate refuses a rate outside [0, 1]."""
    with pytest.raises(ValueError, match="error rate"):
        emulator.faults.set_error_rate(1.5)
