"""The fidelity referee's rules: corpus loading, request builders, normalisation and the
listed differences between what livetokens and the google-genai Python SDK send.

docs/fidelity.md explains every rule here; its table of differences must list exactly
the ids in :data:`DIFFERENCES` (a test checks this).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import pathlib
import re
import struct
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from google.genai import types
from google.protobuf import duration_pb2, json_format
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor

from livetokens.server import translate
from livetokens.v1 import live_config_pb2 as lc
from livetokens.v1 import token_service_pb2 as ts

HERE = pathlib.Path(__file__).parent
CORPUS_PATH = HERE / "corpus.json"
DOC_PATH = HERE.parents[1] / "docs" / "fidelity.md"

# Two instants count as the same span when they differ by at most this much. Each body
# is compared against its own send time, so only loopback latency (milliseconds) and
# livetokens' millisecond truncation are absorbed.
TIME_TOLERANCE = timedelta(seconds=2)
TIME_FIELDS = ("expireTime", "newSessionExpireTime")
# Google's server-side defaults (spec §2), which livetokens sends explicitly.
DEFAULT_USES = 1
DEFAULT_EXPIRE = timedelta(minutes=30)
DEFAULT_NEW_SESSION = timedelta(seconds=60)
# What livetokens' timestamps look like: RFC 3339, UTC `Z`, milliseconds.
LIVETOKENS_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")

# Google fieldMask vocabulary, from livetokens' own mapping table: top-level setup
# fields, and the generationConfig fields.
TOP_LEVEL_PATHS = frozenset(
    {"model"} | {f.json_name for f in translate.SETUP_FIELDS.values() if not f.in_generation_config}
)
GENERATION_FIELDS = frozenset(
    f.json_name for f in translate.SETUP_FIELDS.values() if f.in_generation_config
)
GENERATION_CONFIG = "generationConfig"
MASK_INVALID = "field_mask is invalid for BidiGenerateContentSetup"

SDK_KEYS = frozenset(
    {"uses", "expire_in", "new_session_expire_in", "live_connect_constraints"}
    | {"lock_additional_fields"}
)
CASE_KEYS = frozenset({"id", "description", "sdk", "livetokens"})

JSON = Any


# --- the listed differences -----------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Difference:
    """One documented way in which livetokens' body differs from the SDK's."""

    id: str
    summary: str


DIFFERENCES: Mapping[str, Difference] = {
    d.id: d
    for d in (
        Difference("N1", "livetokens spells every key in camelCase; the SDK nests snake_case"),
        Difference("N2", "integral floats and float64 precision in the SDK's numbers"),
        Difference("N3", "timestamps: livetokens sends UTC `Z` with milliseconds"),
        Difference("D1", "livetokens always sends `uses` (Google's default, 1)"),
        Difference("D2", "livetokens always sends `expireTime` (default: send time + 30 min)"),
        Difference("D3", "livetokens always sends `newSessionExpireTime` (default: + 60 s)"),
        Difference("D4", "a default new-session window is clamped to a shorter lifetime"),
        Difference("M1", "the fieldMask has no duplicate paths"),
        Difference("M2", "fieldMask paths are camelCase"),
        Difference("M3", "generation-config lock names are always `generationConfig.` paths"),
        Difference("M4", "fieldMask paths are top-level (or generationConfig.<field>) only"),
    )
}


# --- corpus ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Case:
    """One corpus case: the same intent as an SDK call and as a TokenRequest."""

    id: str
    description: str
    sdk: Mapping[str, Any]
    livetokens: Mapping[str, Any]

    def token_request(self) -> ts.TokenRequest:
        """The livetokens side as a TokenRequest (proto3 JSON, unknown names refused)."""
        return json_format.ParseDict(self.livetokens, ts.TokenRequest())


@dataclasses.dataclass(frozen=True)
class RefusedValue:
    """An enum value livetokens refuses in requests, with a request that uses it."""

    value: str
    request: Mapping[str, Any]
    field: str


def load_corpus() -> dict[str, Any]:
    """The raw corpus file."""
    data: dict[str, Any] = json.loads(CORPUS_PATH.read_text(encoding="utf-8"))
    return data


def load_cases() -> list[Case]:
    """Every corpus case, in file order."""
    return [
        Case(c["id"], c["description"], c["sdk"], c["livetokens"]) for c in load_corpus()["cases"]
    ]


def load_refused() -> list[RefusedValue]:
    """The enum values that no case can use because livetokens refuses them."""
    return [
        RefusedValue(r["value"], r["request"], r["field"])
        for r in load_corpus()["refused_enum_values"]
    ]


def span(text: str) -> timedelta:
    """A proto3 JSON Duration such as ``"1.5s"``."""
    d = duration_pb2.Duration()
    d.FromJsonString(text)
    result: timedelta = d.ToTimedelta()
    return result


def sdk_config(sdk: Mapping[str, Any], now: datetime) -> types.CreateAuthTokenConfig:
    """The SDK side of a case as ``CreateAuthTokenConfig``, times relative to ``now``."""
    unknown = set(sdk) - SDK_KEYS
    if unknown:
        raise ValueError(f"unknown SDK-side keys {sorted(unknown)}")
    kwargs: dict[str, Any] = {"lock_additional_fields": sdk["lock_additional_fields"]}
    if "uses" in sdk:
        kwargs["uses"] = sdk["uses"]
    if "expire_in" in sdk:
        kwargs["expire_time"] = now + span(sdk["expire_in"])
    if "new_session_expire_in" in sdk:
        kwargs["new_session_expire_time"] = now + span(sdk["new_session_expire_in"])
    if "live_connect_constraints" in sdk:
        kwargs["live_connect_constraints"] = sdk["live_connect_constraints"]
    return types.CreateAuthTokenConfig.model_validate(kwargs)


# --- normalisation --------------------------------------------------------------------


def camel(name: str) -> str:
    """``voice_name`` → ``voiceName``; camelCase names are returned unchanged."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def float32(value: float) -> float:
    """The float32 nearest to ``value``, as a Python float."""
    result: float = struct.unpack("<f", struct.pack("<f", value))[0]
    return result


def shortest_float32(value: float) -> float:
    """The shortest decimal that reads back as the float32 nearest to ``value``."""
    target = float32(value)
    for digits in range(1, 18):
        candidate = float(f"{target:.{digits}g}")
        if float32(candidate) == target:
            return candidate
    return target


def _keys(value: JSON, *, data_keys: bool = False) -> Iterator[tuple[str, bool]]:
    """Every (key, is_user_data) in a JSON value; keys of Schema ``properties`` maps are
    user data (property names), not field names."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield key, data_keys
            yield from _keys(child, data_keys=not data_keys and camel(key) == "properties")
    elif isinstance(value, list):
        for item in value:
            yield from _keys(item)


def _numbers(value: JSON) -> Iterator[int | float]:
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        yield value
    elif isinstance(value, dict):
        for child in value.values():
            yield from _numbers(child)
    elif isinstance(value, list):
        for item in value:
            yield from _numbers(item)


def normalise(value: JSON, *, data_keys: bool = False) -> JSON:
    """Keys in camelCase at every depth (property names kept), numbers by value.

    A float that is integral becomes an int (``topK: 40.0`` == ``40``); any other
    float becomes the float32 nearest to it, the precision Google's proto (and
    livetokens' contract) stores.
    """
    if isinstance(value, dict):
        out = {}
        for key, child in value.items():
            name = key if data_keys else camel(key)
            out[name] = normalise(child, data_keys=not data_keys and name == "properties")
        return out
    if isinstance(value, list):
        return [normalise(item) for item in value]
    if isinstance(value, float):
        return int(value) if value.is_integer() else float32(value)
    return value


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))


def _seconds(delta: timedelta) -> float:
    return round(delta.total_seconds(), 3)


def sdk_mask(raw: str | None) -> tuple[list[str], set[str]]:
    """The SDK's fieldMask as canonical paths, and which M-rules its quirks needed.

    In order: camelCase each segment (M2); prefix a bare generation-config name with
    ``generationConfig.`` (M3); note duplicates (M1); collapse a one-level expansion of
    a top-level field, ``systemInstruction.parts`` → ``systemInstruction`` (M4).
    """
    fired: set[str] = set()
    mapped: list[str] = []
    for path in (p.strip() for p in (raw or "").split(",")):
        if not path:
            continue
        segments = [camel(s) for s in path.split(".")]
        if segments != path.split("."):
            fired.add("M2")
        if len(segments) == 1 and segments[0] in GENERATION_FIELDS:
            segments = [GENERATION_CONFIG, segments[0]]
            fired.add("M3")
        mapped.append(".".join(segments))
    if len(set(mapped)) < len(mapped):
        fired.add("M1")
    paths: list[str] = []
    for path in mapped:
        head, _, tail = path.partition(".")
        if tail and head != GENERATION_CONFIG and head in TOP_LEVEL_PATHS:
            path = head
            fired.add("M4")
        if path not in paths:
            paths.append(path)
    return sorted(paths), fired


def valid_mask_path(path: str) -> bool:
    """True for a path the emulator (spec §10) accepts: a top-level setup field or
    ``generationConfig.<field>``, each segment in either spelling."""
    segments = [camel(s) for s in path.split(".")]
    if len(segments) == 1:
        return segments[0] in TOP_LEVEL_PATHS
    return (
        len(segments) == 2
        and segments[0] == GENERATION_CONFIG
        and segments[1] in (GENERATION_FIELDS)
    )


def livetokens_form(body: JSON) -> list[str]:
    """What is wrong with livetokens' own canonical form (empty when nothing is).

    livetokens must send camelCase keys, float32-exact floats, RFC 3339 UTC ``Z``
    millisecond timestamps, the three token fields always, and a fieldMask of unique,
    valid, camelCase paths.
    """
    problems: list[str] = []
    if not isinstance(body, dict):
        return [f"the body is not a JSON object: {body!r}"]
    for key, is_data in _keys(body):
        if not is_data and camel(key) != key:
            problems.append(f"key {key!r} is not camelCase")
    for number in _numbers(body):
        if isinstance(number, float) and shortest_float32(number) != number:
            problems.append(f"number {number!r} is not the shortest float32 repr")
    for name in TIME_FIELDS:
        value = body.get(name)
        if not isinstance(value, str) or not LIVETOKENS_TIME.fullmatch(value):
            problems.append(f"{name} is {value!r}, not an RFC 3339 UTC Z millisecond time")
    if not isinstance(body.get("uses"), int):
        problems.append(f"uses is {body.get('uses')!r}, not an explicit integer")
    mask = body.get("fieldMask")
    if mask is not None:
        paths = str(mask).split(",")
        if len(set(paths)) < len(paths):
            problems.append(f"fieldMask {mask!r} repeats a path")
        for path in paths:
            if not valid_mask_path(path) or ".".join(camel(s) for s in path.split(".")) != path:
                problems.append(f"fieldMask path {path!r} is not a canonical Google path")
    return problems


@dataclasses.dataclass
class Normalised:
    """A body after normalisation: the fields, the mask as a set, times as offsets."""

    fields: dict[str, Any]
    mask: list[str] | None
    times: dict[str, timedelta]

    def view(self) -> dict[str, Any]:
        """Pretty-printable: times as whole seconds after send, mask as a sorted list."""
        out = dict(self.fields)
        for name, offset in self.times.items():
            out[name] = f"send + {offset.total_seconds():.0f}s"
        if self.mask is not None:
            out["fieldMask"] = self.mask
        return dict(sorted(out.items()))


def _normalise_body(body: JSON, sent_at: datetime) -> tuple[Normalised, set[str]]:
    """Both sides go through this; the SDK's quirks it absorbs are returned as fired ids."""
    fired: set[str] = set()
    body = {} if body is None else dict(body)
    if any(not is_data and camel(key) != key for key, is_data in _keys(body)):
        fired.add("N1")
    if any(isinstance(n, float) and (n.is_integer() or float32(n) != n) for n in _numbers(body)):
        fired.add("N2")
    times: dict[str, timedelta] = {}
    for name in TIME_FIELDS:
        if name in body:
            text = body.pop(name)
            if not LIVETOKENS_TIME.fullmatch(text):
                fired.add("N3")
            times[name] = _instant(text) - sent_at
    mask = None
    if "fieldMask" in body:
        mask, mask_fired = sdk_mask(body.pop("fieldMask"))
        fired |= mask_fired
    return Normalised(normalise(body), mask, times), fired


# --- comparison -----------------------------------------------------------------------


@dataclasses.dataclass
class Verdict:
    """The outcome of comparing one case's two bodies."""

    case_id: str
    sdk: Normalised
    livetokens: Normalised
    fired: set[str]
    problems: list[str]

    def report(self) -> str:
        """The case id, every problem, and a unified diff of the normalised bodies.

        livetokens' side is shown after the listed differences that applied were taken
        out, so the diff shows only what is not explained by the list.
        """
        left = json.dumps(self.sdk.view(), indent=2, sort_keys=True).splitlines()
        right = json.dumps(self.livetokens.view(), indent=2, sort_keys=True).splitlines()
        diff = difflib.unified_diff(
            left, right, "google-genai (normalised)", "livetokens (normalised)", lineterm=""
        )
        applied = ", ".join(sorted(self.fired)) or "none"
        lines = [
            f"case {self.case_id}: livetokens differs from google-genai",
            *(f"  - {p}" for p in self.problems),
            f"  (listed differences applied: {applied}; docs/fidelity.md)",
            *diff,
        ]
        return "\n".join(lines)


def _close(a: timedelta, b: timedelta) -> bool:
    return abs(a - b) <= TIME_TOLERANCE


def compare(
    case_id: str,
    sdk_body: JSON,
    sdk_sent_at: datetime,
    lt_body: JSON,
    lt_sent_at: datetime,
) -> Verdict:
    """Compare the two bodies of one case, allowing exactly the listed differences.

    Each listed difference applies when the SDK's body shows the quirk or omission it
    names, and must then occur in livetokens' body exactly as listed; everything
    else must be equal after normalisation.
    """
    problems = [f"livetokens form: {p}" for p in livetokens_form(lt_body)]
    sdk, fired = _normalise_body(sdk_body, sdk_sent_at)
    lt, _ = _normalise_body(lt_body, lt_sent_at)
    lt_fields = dict(lt.fields)
    lt_times = dict(lt.times)

    if "uses" not in sdk.fields:
        fired.add("D1")
        if lt_fields.pop("uses", None) != DEFAULT_USES:
            problems.append(f"D1: SDK omits uses, livetokens must send {DEFAULT_USES}")
    lifetime = lt_times.get("expireTime", DEFAULT_EXPIRE)
    if "expireTime" not in sdk.times:
        fired.add("D2")
        sent = lt_times.pop("expireTime", None)
        if sent is None or not _close(sent, DEFAULT_EXPIRE):
            problems.append(f"D2: SDK omits expireTime, livetokens sent send + {sent}")
    if "newSessionExpireTime" not in sdk.times:
        sent = lt_times.pop("newSessionExpireTime", None)
        if lifetime >= DEFAULT_NEW_SESSION:
            fired.add("D3")
            expected = DEFAULT_NEW_SESSION
        else:
            fired.add("D4")
            expected = lifetime
        if sent is None or not _close(sent, expected):
            problems.append(
                f"D3/D4: SDK omits newSessionExpireTime, livetokens must send send + "
                f"{expected}, sent send + {sent}"
            )

    if sdk.fields != lt_fields:
        problems.append("the bodies differ (beyond times and fieldMask)")
    if sorted(sdk.times) != sorted(lt_times):
        problems.append(f"time fields differ: {sorted(sdk.times)} vs {sorted(lt_times)}")
    for name in set(sdk.times) & set(lt_times):
        if not _close(sdk.times[name], lt_times[name]):
            problems.append(
                f"{name}: send + {_seconds(sdk.times[name])}s vs send + {_seconds(lt_times[name])}s"
            )
    if sdk.mask != lt.mask:
        problems.append(f"fieldMask paths differ: {sdk.mask} vs {lt.mask}")
    shown = Normalised(lt_fields, lt.mask, lt_times)
    return Verdict(case_id, sdk, shown, fired, problems)


# --- corpus coverage ------------------------------------------------------------------


def request_messages() -> list[Descriptor]:
    """Every livetokens.v1 message reachable from TokenRequest (map entries excluded)."""
    seen: dict[str, Descriptor] = {}
    stack = [ts.TokenRequest.DESCRIPTOR]
    while stack:
        message = stack.pop()
        if message.full_name in seen or message.GetOptions().map_entry:
            continue
        seen[message.full_name] = message
        for field in message.fields:
            target = field.message_type
            if target is None:
                continue
            if target.GetOptions().map_entry:
                target = target.fields_by_name["value"].message_type
                if target is None:
                    continue
            if target.full_name.startswith("livetokens.v1."):
                stack.append(target)
    return sorted(seen.values(), key=lambda m: m.full_name)


def request_enums() -> list[EnumDescriptor]:
    """Every enum a field of a request message has (not ErrorReason, which only errors use)."""
    enums = {
        field.enum_type.full_name: field.enum_type
        for message in request_messages()
        for field in message.fields
        if field.enum_type is not None
    }
    declared = list(lc.DESCRIPTOR.enum_types_by_name) + list(ts.DESCRIPTOR.enum_types_by_name)
    assert len(enums) == len(declared) - 1, "a declared enum is neither in requests nor ErrorReason"
    return sorted(enums.values(), key=lambda e: e.full_name)


def _field(message: Descriptor, key: str) -> FieldDescriptor:
    for field in message.fields:
        if key in (field.json_name, field.name):
            return field
    raise KeyError(f"{message.full_name} has no field {key!r}")


def touched(
    message: Descriptor, value: Mapping[str, Any], fields: set[str], enum_values: set[str]
) -> None:
    """Add every field full name set in the proto3 JSON ``value`` and every enum value
    written in it (as ``<enum full name>.<VALUE>``), walking nested messages."""
    for key, child in value.items():
        field = _field(message, key)
        fields.add(field.full_name)
        target = field.message_type
        if target is not None and target.GetOptions().map_entry:
            entry = target.fields_by_name["value"]
            for item in child.values():
                if entry.message_type is not None:
                    touched(entry.message_type, item, fields, enum_values)
            continue
        items = child if field.is_repeated else [child]
        for item in items:
            if target is not None and target.full_name.startswith("livetokens.v1."):
                touched(target, item, fields, enum_values)
            elif field.enum_type is not None:
                enum_values.add(f"{field.enum_type.full_name}.{item}")
