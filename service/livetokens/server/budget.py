"""The cost budget: how much one TokenRequest may hold, checked before expensive work.

Validation, policy, translation and the JSON body all cost time in proportion to
what the request holds, on the one event loop every caller shares. The budget
bounds that, so that the most expensive request livetokens admits costs little
(docs/hardening.md has the measured figure). It is checked right after the decode,
before anything else looks at the request, by one walk that stops as soon as the
request is over budget, so a refusal costs no more than the budget itself:

- the request's bytes (``--max-request-bytes``, checked before the decode, in the
  servicer);
- schema nodes (`Schema` messages) in all, function declarations in all;
- entries of each repeated or map field (tools, function declarations per tool,
  properties per schema, enum values, parts, ...);
- characters of each string (names, descriptions, codes, texts).

A request over budget gets INVALID_ARGUMENT / REQUEST_TOO_LARGE, whose BadRequest
names each field over its limit.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Mapping

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from livetokens.server.errors import FieldViolation
from livetokens.v1 import live_config_pb2 as lc
from livetokens.v1 import token_service_pb2 as ts

_SCHEMA = lc.Schema.DESCRIPTOR.full_name
_DECLARATION = lc.FunctionDeclaration.DESCRIPTOR.full_name

# Limits of particular fields, by full proto name; every other repeated or map field
# may hold Budget.max_entries entries and every other string Budget.max_chars characters.
FIELD_LIMITS: Mapping[str, int] = types.MappingProxyType(
    {
        "livetokens.v1.LiveConfig.tools": 128,
        "livetokens.v1.Tool.function_declarations": 128,
        "livetokens.v1.Schema.properties": 256,
        "livetokens.v1.Schema.required": 256,
        "livetokens.v1.Schema.enum_values": 256,
        "livetokens.v1.Content.parts": 256,
        # The system instruction's text: validation allows 100,000 characters in all.
        "livetokens.v1.Part.text": 100_000,
        "livetokens.v1.SessionResumptionConfig.handle": 4_096,
        "livetokens.v1.FunctionDeclaration.description": 8_192,
        "livetokens.v1.Schema.description": 8_192,
    }
)


@dataclasses.dataclass(frozen=True)
class Budget:
    """What one request may hold (defaults documented in docs/hardening.md)."""

    max_schema_nodes: int = 1_000
    max_declarations: int = 256
    max_entries: int = 64
    max_chars: int = 1_024
    max_key_chars: int = 256
    field_limits: Mapping[str, int] = dataclasses.field(default_factory=lambda: FIELD_LIMITS)
    # The walk stops after this many violations: a refusal costs no more than that.
    max_violations: int = 20

    def limit(self, field: FieldDescriptor) -> int:
        """How many entries (repeated, map) or characters (string) ``field`` may hold."""
        default = self.max_entries if field.is_repeated else self.max_chars
        return self.field_limits.get(field.full_name, default)


@dataclasses.dataclass
class _Walk:
    budget: Budget
    violations: list[FieldViolation] = dataclasses.field(default_factory=list)
    schemas: int = 0
    declarations: int = 0
    messages: int = 0

    def add(self, field: str, description: str) -> None:
        self.violations.append(FieldViolation(field, description))

    @property
    def done(self) -> bool:
        return len(self.violations) >= self.budget.max_violations


def _key(key: object) -> str:
    text = str(key)
    return repr(text if len(text) <= 40 else text[:40] + "…")


def over_budget(request: ts.TokenRequest, budget: Budget) -> list[FieldViolation]:
    """Where ``request`` is over ``budget``, in field order (empty: within it)."""
    return walk(request, budget).violations


def walk(request: ts.TokenRequest, budget: Budget) -> _Walk:
    """The budget walk over ``request``; its ``messages`` count says how big it was."""
    state = _Walk(budget)
    stack: list[tuple[Message, str]] = [(request, "")]
    while stack and not state.done:
        message, path = stack.pop()
        state.messages += 1
        kind = message.DESCRIPTOR.full_name
        if kind == _SCHEMA:
            state.schemas += 1
            if state.schemas > budget.max_schema_nodes:
                state.add(
                    path,
                    f"is schema node {state.schemas}; at most {budget.max_schema_nodes} in all",
                )
                break
        elif kind == _DECLARATION:
            state.declarations += 1
            if state.declarations > budget.max_declarations:
                state.add(
                    path,
                    f"is function declaration {state.declarations}; at most "
                    f"{budget.max_declarations} in all",
                )
                break
        children: list[tuple[Message, str]] = []
        for field, value in message.ListFields():
            _field(state, field, value, f"{path}.{field.name}" if path else field.name, children)
        stack.extend(reversed(children))
    return state


def _field(
    state: _Walk,
    field: FieldDescriptor,
    value: object,
    path: str,
    children: list[tuple[Message, str]],
) -> None:
    limit = state.budget.limit(field)
    if field.is_repeated:
        entries: list[object] | dict[object, object] = value  # type: ignore[assignment]
        if len(entries) > limit:
            state.add(path, f"has {len(entries)} entries; at most {limit}")
            return
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            mapping: Mapping[object, object] = value  # type: ignore[assignment]
            for key, item in sorted(mapping.items()):  # at most `limit`: cheap
                if isinstance(key, str) and len(key) > state.budget.max_key_chars:
                    state.add(
                        f"{path}[{_key(key)}]",
                        f"key has {len(key)} characters; at most {state.budget.max_key_chars}",
                    )
                elif isinstance(item, Message):
                    children.append((item, f"{path}[{_key(key)}]"))
                elif isinstance(item, str) and len(item) > state.budget.max_chars:
                    state.add(
                        f"{path}[{_key(key)}]", f"is over {state.budget.max_chars} characters"
                    )
            return
        if field.message_type is not None:
            children.extend((item, f"{path}[{i}]") for i, item in enumerate(entries))  # type: ignore[misc]
        elif field.type == FieldDescriptor.TYPE_STRING and entries:
            texts: list[str] = value  # type: ignore[assignment]
            if max(map(len, texts)) > state.budget.max_chars:
                for i, text in enumerate(texts):
                    if len(text) > state.budget.max_chars:
                        state.add(
                            f"{path}[{i}]",
                            f"has {len(text)} characters; at most {state.budget.max_chars}",
                        )
                        break
        return
    if field.message_type is not None:
        children.append((value, path))  # type: ignore[arg-type]
    elif field.type in (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES):
        size = len(value)  # type: ignore[arg-type]
        if size > limit:
            state.add(path, f"has {size} characters; at most {limit}")
