"""The fidelity corpus covers the contract, and the referee's comparison can fail.

No servers here: these tests read the corpus, the proto descriptors and docs/fidelity.md,
and feed hand-made bodies to the comparison.
"""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fidelity_support import (
    CASE_KEYS,
    DIFFERENCES,
    DOC_PATH,
    Case,
    compare,
    load_cases,
    load_corpus,
    load_refused,
    normalise,
    request_enums,
    request_messages,
    sdk_config,
    sdk_mask,
    span,
    touched,
)

from livetokens.server import validation
from livetokens.v1 import token_service_pb2 as ts

CASES = load_cases()
T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def _livetokens_touches() -> tuple[set[str], set[str]]:
    fields: set[str] = set()
    enum_values: set[str] = set()
    for case in CASES:
        touched(ts.TokenRequest.DESCRIPTOR, case.livetokens, fields, enum_values)
    return fields, enum_values


def test_corpus_has_at_least_40_cases_with_unique_ids() -> None:
    """The corpus holds at least 40 cases, each with a unique id and a description."""
    ids = [c.id for c in CASES]
    assert len(ids) >= 40
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", i) for i in ids)
    assert all(c.description.strip() for c in CASES)
    assert all(set(raw) == CASE_KEYS for raw in load_corpus()["cases"])


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case_is_valid_on_both_sides(case: Case) -> None:
    """Each case builds an SDK config and a TokenRequest that livetokens' validation accepts."""
    config = sdk_config(case.sdk, T0)
    assert config.lock_additional_fields == case.sdk["lock_additional_fields"]
    request = case.token_request()
    assert validation.validate(request) == []


def test_corpus_touches_every_request_field() -> None:
    """Every field of TokenRequest and of each livetokens.v1 message under it is set by a case."""
    fields, _ = _livetokens_touches()
    expected = {f.full_name for m in request_messages() for f in m.fields}
    assert expected - fields == set(), "fields no corpus case sets"
    assert "livetokens.v1.LiveConfig.history_config" in expected  # the walk reaches LiveConfig


def test_corpus_uses_every_enum_value() -> None:
    """Every value of every enum is used by a case, or refused by livetokens (tested live)."""
    _, used = _livetokens_touches()
    refused = {r.value for r in load_refused()}
    every = {f"{enum.full_name}.{value.name}" for enum in request_enums() for value in enum.values}
    assert every - used - refused == set(), "enum values no case uses"
    assert used & refused == set(), "a refused value cannot be in a case"
    assert refused <= every


def test_corpus_uses_every_lock_mode_with_and_without_constraints() -> None:
    """The SDK's three lock modes (None, [], [..]) each appear with and without constraints."""
    seen = set()
    for case in CASES:
        lock = case.sdk["lock_additional_fields"]
        mode = "none" if lock is None else ("empty" if not lock else "list")
        constrained = bool(case.sdk.get("live_connect_constraints"))
        seen.add((mode, constrained))
    assert seen == {(m, c) for m in ("none", "empty", "list") for c in (True, False)}
    modes = {ts.LockMode.Name(c.token_request().lock.mode) for c in CASES}
    assert modes == set(ts.LockMode.keys())


def test_corpus_has_the_edge_values() -> None:
    """0 uses, tiny and near-20 h spans, both model spellings and empty configs are in."""
    requests = [c.livetokens for c in CASES]
    assert any(r.get("uses") == 0 for r in requests)
    lifetimes = [span(r["lifetime"]) for r in requests if "lifetime" in r]
    windows = [span(r["newSessionWindow"]) for r in requests if "newSessionWindow" in r]
    assert min(lifetimes) <= timedelta(seconds=1)
    assert min(windows) <= timedelta(milliseconds=1)
    assert max(lifetimes) >= timedelta(hours=19, minutes=59)
    assert max(windows) >= timedelta(hours=19, minutes=59)
    models = [r["constraints"]["model"] for r in requests if "constraints" in r]
    assert any(m.startswith("models/") for m in models)
    assert any(not m.startswith(("models/", "tunedModels/")) for m in models)
    assert any(m.startswith("tunedModels/") for m in models)
    assert {} in requests
    assert any(r.get("constraints", {}).get("config") == {} for r in requests)


def test_docs_list_exactly_the_differences_the_test_allows() -> None:
    """docs/fidelity.md's table of differences names exactly the ids the comparison applies."""
    text = DOC_PATH.read_text(encoding="utf-8")
    listed = re.findall(r"^\| \*\*([A-Z]\d+)\*\* \|", text, flags=re.MULTILINE)
    assert sorted(listed) == sorted(DIFFERENCES)
    assert len(listed) == len(set(listed))


# --- the comparison itself ------------------------------------------------------------


def _lt(**extra: Any) -> dict[str, Any]:
    body = {
        "uses": 1,
        "expireTime": "2030-01-01T12:30:00.000Z",
        "newSessionExpireTime": "2030-01-01T12:01:00.000Z",
    }
    body.update(extra)
    return body


SETUP = {"model": "models/m", "generationConfig": {"temperature": 0.7, "topK": 40}}
SDK_SETUP = {"model": "models/m", "generationConfig": {"temperature": 0.7, "topK": 40.0}}


def test_identical_intents_compare_equal_with_the_defaults_listed() -> None:
    """An SDK body without uses and times matches livetokens' explicit defaults (D1-D3)."""
    verdict = compare(
        "t", {"bidiGenerateContentSetup": SDK_SETUP}, T0, _lt(bidiGenerateContentSetup=SETUP), T0
    )
    assert verdict.problems == []
    assert verdict.fired == {"D1", "D2", "D3", "N2"}


@pytest.mark.parametrize(
    ("mutation", "problem"),
    [
        (
            lambda b: b["bidiGenerateContentSetup"]["generationConfig"].update(temperature=0.8),
            "differ",
        ),
        (lambda b: b["bidiGenerateContentSetup"].update(model="models/other"), "differ"),
        (lambda b: b.update(uses=2), "D1"),
        (lambda b: b.pop("uses"), "D1"),
        (lambda b: b.update(expireTime="2030-01-01T12:40:00.000Z"), "D2"),
        (lambda b: b.pop("newSessionExpireTime"), "D3"),
        (lambda b: b.update(fieldMask="model"), "fieldMask"),
        (lambda b: b["bidiGenerateContentSetup"].update(tools=[]), "differ"),
        (lambda b: b.update(expireTime="2030-01-01T12:30:00+00:00"), "RFC 3339"),
        (lambda b: b["bidiGenerateContentSetup"].update(top_k=1), "camelCase"),
        (
            lambda b: b["bidiGenerateContentSetup"]["generationConfig"].update(
                temperature=0.699999988079071
            ),
            "float32",
        ),
    ],
)
def test_any_other_difference_fails(mutation: Any, problem: str) -> None:
    """A change to livetokens' body that is not a listed difference is reported."""
    lt = _lt(bidiGenerateContentSetup=copy.deepcopy(SETUP))
    mutation(lt)
    verdict = compare("mutated", {"bidiGenerateContentSetup": SDK_SETUP}, T0, lt, T0)
    assert any(problem in p for p in verdict.problems), verdict.problems
    assert "case mutated" in verdict.report()


def test_times_are_compared_as_spans_from_each_send_time() -> None:
    """Each side's times count from its own send time, within the tolerance only."""
    sdk = {
        "uses": 1,
        "expireTime": "2030-01-01T12:00:10.000500+00:00",
        "newSessionExpireTime": "2030-01-01T12:00:05+00:00",
    }
    lt = _lt(expireTime="2030-01-01T12:00:13.000Z", newSessionExpireTime="2030-01-01T12:00:08.000Z")
    later = T0 + timedelta(seconds=3)
    assert compare("t", sdk, T0, lt, later).problems == []
    assert compare("t", sdk, T0, lt, T0).problems != []


def test_default_window_is_clamped_to_a_short_lifetime() -> None:
    """With no SDK window and a lifetime under 60 s, livetokens' window equals the lifetime (D4)."""
    sdk = {"uses": 1, "expireTime": "2030-01-01T12:00:30+00:00"}
    lt = _lt(expireTime="2030-01-01T12:00:30.000Z", newSessionExpireTime="2030-01-01T12:00:30.000Z")
    verdict = compare("t", sdk, T0, lt, T0)
    assert (verdict.problems, "D4" in verdict.fired) == ([], True)
    lt["newSessionExpireTime"] = "2030-01-01T12:01:00.000Z"
    assert compare("t", sdk, T0, lt, T0).problems != []


def test_sdk_mask_quirks_map_to_canonical_paths() -> None:
    """Spec §4.4: duplicates, snake_case, bare generation names and one-level expansions."""
    paths, fired = sdk_mask(
        "model,generationConfig.temperature,topK,generationConfig.temperature,system_instruction"
    )
    assert paths == [
        "generationConfig.temperature",
        "generationConfig.topK",
        "model",
        "systemInstruction",
    ]
    assert fired == {"M1", "M2", "M3"}
    paths, fired = sdk_mask(
        "model,systemInstruction.parts,systemInstruction.role,"
        "sessionResumption.handle,generationConfig.top_k,tools"
    )
    assert paths == [
        "generationConfig.topK",
        "model",
        "sessionResumption",
        "systemInstruction",
        "tools",
    ]
    assert fired == {"M2", "M4"}
    assert sdk_mask("tools.0") == (["tools"], {"M4"})
    assert sdk_mask(None) == ([], set())


def test_livetokens_mask_must_already_be_canonical() -> None:
    """livetokens' own mask gets no quirk mapping: duplicates, snake or nested paths fail."""
    sdk = {"uses": 1, "bidiGenerateContentSetup": {"model": "models/m"}, "fieldMask": "model"}
    for mask in ("model,model", "systemInstruction.parts", "generation_config.top_k", "tools.0"):
        lt = _lt(bidiGenerateContentSetup={"model": "models/m"}, fieldMask=mask)
        verdict = compare("t", sdk, T0, lt, T0)
        assert any("livetokens form" in p for p in verdict.problems), mask
    lt = _lt(bidiGenerateContentSetup={"model": "models/m"}, fieldMask="model")
    assert compare("t", sdk, T0, lt, T0).problems == []


def test_normalise_keeps_property_names_and_compares_numbers_by_value() -> None:
    """Field names become camelCase, Schema property names stay, numbers compare by value."""
    sdk = {"parameters": {"properties": {"city_name": {"max_items": 2.0}}}, "top_p": 0.1}
    assert normalise(sdk) == {
        "parameters": {"properties": {"city_name": {"maxItems": 2}}},
        "topP": normalise(0.10000000149011612),
    }
    assert normalise(9007199254740993) == 9007199254740993
    assert normalise(0.123456789) == normalise(0.12345679)
    assert normalise(0.1) != normalise(0.1000001)
