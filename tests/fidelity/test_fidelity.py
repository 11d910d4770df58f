"""livetokens sends Google the same body as the google-genai Python SDK, up to the listed
differences (docs/fidelity.md). Both talk to one emulator that captures every body."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest
import pytest_asyncio
from fidelity_support import (
    DIFFERENCES,
    MASK_INVALID,
    Case,
    RefusedValue,
    compare,
    load_cases,
    load_refused,
    sdk_config,
    valid_mask_path,
)
from google import genai
from google.genai import errors as genai_errors
from google.genai import types
from google.protobuf import json_format
from lt_support import API_KEY, server_settings

from livetokens.client import AsyncClient, error_details
from livetokens.emulator import CapturedRequest, Emulator, EmulatorConfig
from livetokens.server import RunningServer, create_server
from livetokens.v1 import token_service_pb2 as ts

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    # google-genai marks token creation experimental; the warning is expected here.
    pytest.mark.filterwarnings(
        "ignore:The SDK's token creation implementation is experimental"
        ":google.genai._common.ExperimentalWarning"
    ),
    # google-genai 3.6.1 subclasses aiohttp's ClientSession, which aiohttp 3.14 frowns on.
    pytest.mark.filterwarnings(
        "ignore:Inheritance class AiohttpClientSession from ClientSession is discouraged"
        ":DeprecationWarning"
    ),
]

CASES = load_cases()
CASE_IDS = [c.id for c in CASES]
REFUSED = load_refused()
TOKEN_PREFIX = "auth_tokens/"


@dataclasses.dataclass(frozen=True)
class SdkSend:
    """What the SDK sent for one case, and how the emulator answered."""

    request: CapturedRequest
    minted: bool
    error_code: int | None = None
    error_message: str | None = None


@dataclasses.dataclass(frozen=True)
class Capture:
    """Both sides of one case, as the emulator received them."""

    sdk: SdkSend
    livetokens: CapturedRequest
    livetokens_minted: bool


def _received_at(request: CapturedRequest) -> datetime:
    assert request.received_at is not None, "the emulator records when it read each request"
    return request.received_at


class Capturer:
    """Sends each case through both the SDK and livetokens once, and remembers the bodies."""

    def __init__(self, emulator: Emulator, sdk: genai.Client, client: AsyncClient) -> None:
        self._emulator = emulator
        self._sdk = sdk
        self._client = client
        self._done: dict[str, Capture] = {}

    def _one_new_request(self, before: int) -> CapturedRequest:
        new = self._emulator.requests[before:]
        assert len(new) == 1, f"expected exactly one upstream request, got {len(new)}"
        return new[0]

    async def _send_sdk(self, case: Case) -> SdkSend:
        config = sdk_config(case.sdk, datetime.now(UTC))
        before = len(self._emulator.requests)
        try:
            token = await self._sdk.aio.auth_tokens.create(config=config)
        except genai_errors.APIError as exc:
            request = self._one_new_request(before)
            return SdkSend(request, minted=False, error_code=exc.code, error_message=exc.message)
        request = self._one_new_request(before)
        # Never print the name itself: it is a credential.
        return SdkSend(request, minted=(token.name or "").startswith(TOKEN_PREFIX))

    async def _send_livetokens(self, case: Case) -> tuple[CapturedRequest, bool]:
        before = len(self._emulator.requests)
        token = await self._client.mint_token(case.token_request())
        return self._one_new_request(before), token.name.startswith(TOKEN_PREFIX)

    async def capture(self, case: Case) -> Capture:
        """Both bodies of ``case``; each case is sent once per module."""
        if case.id not in self._done:
            sdk = await self._send_sdk(case)
            request, minted = await self._send_livetokens(case)
            self._done[case.id] = Capture(sdk, request, minted)
        return self._done[case.id]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def emulator() -> AsyncIterator[Emulator]:
    """One capturing emulator for the module, on 127.0.0.1 and a free port."""
    async with Emulator(EmulatorConfig(api_keys=frozenset({API_KEY}))) as emu:
        yield emu


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server(emulator: Emulator) -> AsyncIterator[RunningServer]:
    """One real livetokens grpc.aio server for the module, upstream = the emulator."""
    running = await create_server(server_settings(emulator.base_url))
    try:
        yield running
    finally:
        await running.stop(0)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(server: RunningServer) -> AsyncIterator[AsyncClient]:
    """The Python livetokens client, plaintext on loopback."""
    async with AsyncClient(f"127.0.0.1:{server.port}", plaintext=True) as c:
        yield c


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def capturer(emulator: Emulator, client: AsyncClient) -> AsyncIterator[Capturer]:
    """The google-genai SDK aimed at the emulator, and the per-module capture cache."""
    sdk = genai.Client(
        api_key=API_KEY,
        http_options=types.HttpOptions(base_url=emulator.base_url, api_version="v1alpha"),
    )
    try:
        yield Capturer(emulator, sdk, client)
    finally:
        await sdk.aio.aclose()


def _case(case_id: str) -> Case:
    return next(c for c in CASES if c.id == case_id)


def _sdk_mask_paths(body: Any) -> list[str]:
    mask = body.get("fieldMask") if isinstance(body, dict) else None
    return [p for p in str(mask or "").split(",") if p]


@pytest.mark.parametrize("case_id", CASE_IDS)
async def test_livetokens_body_equals_sdk_body(capturer: Capturer, case_id: str) -> None:
    """livetokens' REST body equals the SDK's after normalisation, up to the listed differences."""
    case = _case(case_id)
    captured = await capturer.capture(case)
    verdict = compare(
        case.id,
        captured.sdk.request.body_json,
        _received_at(captured.sdk.request),
        captured.livetokens.body_json,
        _received_at(captured.livetokens),
    )
    if verdict.problems:
        pytest.fail(verdict.report(), pytrace=False)


@pytest.mark.parametrize("case_id", CASE_IDS)
async def test_both_mint_on_the_emulator(capturer: Capturer, case_id: str) -> None:
    """livetokens mints every case; the SDK mints every case whose mask the emulator accepts."""
    captured = await capturer.capture(_case(case_id))
    assert captured.livetokens_minted
    assert captured.livetokens.status == 200
    sdk = captured.sdk
    invalid = [p for p in _sdk_mask_paths(sdk.request.body_json) if not valid_mask_path(p)]
    if not invalid:
        assert sdk.minted, (
            f"case {case_id}: the SDK's mint failed: {sdk.error_code} {sdk.error_message}"
        )
    else:
        # The SDK's nested or bare paths (M3, M4) are invalid under the emulator's
        # documented assumption (spec §3.2, §10); docs/fidelity.md "Minting with the SDK".
        assert (sdk.minted, sdk.error_code, sdk.error_message) == (False, 400, MASK_INVALID), (
            f"case {case_id}: paths {invalid} should be refused"
        )


async def test_every_listed_difference_occurs(capturer: Capturer) -> None:
    """Each listed difference shows up in some corpus case, so the list stays true."""
    seen: set[str] = set()
    for case in CASES:
        captured = await capturer.capture(case)
        verdict = compare(
            case.id,
            captured.sdk.request.body_json,
            _received_at(captured.sdk.request),
            captured.livetokens.body_json,
            _received_at(captured.livetokens),
        )
        seen |= verdict.fired
    assert set(DIFFERENCES) - seen == set(), "listed differences that no case shows"


@pytest.mark.parametrize("refused", REFUSED, ids=[r.value for r in REFUSED])
async def test_enum_values_outside_the_corpus_are_refused(
    emulator: Emulator, client: AsyncClient, refused: RefusedValue
) -> None:
    """The enum values no corpus case uses are exactly ones livetokens refuses before Google."""
    request = json_format.ParseDict(refused.request, ts.TokenRequest())
    before = len(emulator.requests)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.mint_token(request)
    details = error_details(caught.value)
    assert (details.code, details.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_REQUEST")
    assert refused.field in [v.field for v in details.field_violations]
    assert len(emulator.requests) == before, "a refused request must not reach Google"
