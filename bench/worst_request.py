"""``make bench-worst``: how long the most expensive request the budget admits holds
the event loop.

A benchmark, not a test. It builds the requests that cost livetokens the most while
staying within the default cost budget (docs/hardening.md) and times, in this
process, the synchronous work one mint does on the event loop between two awaits:
decode, the budget walk, validation, translation and the JSON body. Each figure is
the median of ``--repeat`` runs (min and max beside it), since other jobs share the
machine. The goal is under 20 ms per request.

    .venv/bin/python bench/worst_request.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from livetokens.server.budget import Budget, over_budget
from livetokens.server.settings import LimitSettings
from livetokens.server.translate import translate
from livetokens.server.validation import validate
from livetokens.v1 import live_config_pb2 as lc
from livetokens.v1 import token_service_pb2 as ts

MODEL = "gemini-live-2.5-flash-preview"


def _base() -> ts.TokenRequest:
    request = ts.TokenRequest()
    request.constraints.model = MODEL
    request.constraints.config.response_modalities.append(lc.MODALITY_AUDIO)
    return request


def wide_schemas(budget: Budget, description: int) -> ts.TokenRequest:
    """Every schema node the budget allows, as properties of as few schemas as allowed,
    each with a ``description``-character description."""
    request = _base()
    tool = request.constraints.config.tools.add()
    per_schema = budget.field_limits["livetokens.v1.Schema.properties"]
    nodes = 0
    while nodes + 1 < budget.max_schema_nodes:
        fn = tool.function_declarations.add(name=f"function_{len(tool.function_declarations)}")
        params = fn.parameters
        params.type = lc.SCHEMA_TYPE_OBJECT
        nodes += 1
        for j in range(min(per_schema, budget.max_schema_nodes - nodes)):
            prop = params.properties[f"property_{j:03d}"]
            prop.type = lc.SCHEMA_TYPE_STRING
            prop.description = "d" * description
            params.required.append(f"property_{j:03d}")
            nodes += 1
    return request


def deep_schemas(budget: Budget) -> ts.TokenRequest:
    """Every schema node the budget allows, as chains 16 levels deep (the depth limit)."""
    request = _base()
    tool = request.constraints.config.tools.add()
    nodes = 0
    while nodes + 16 <= budget.max_schema_nodes:
        fn = tool.function_declarations.add(name=f"function_{len(tool.function_declarations)}")
        schema = fn.parameters
        for _ in range(15):
            schema.type = lc.SCHEMA_TYPE_OBJECT
            schema.required.append("next")
            schema = schema.properties["next"]
        schema.type = lc.SCHEMA_TYPE_STRING
        nodes += 16
    return request


def many_declarations(budget: Budget) -> ts.TokenRequest:
    """Every function declaration the budget allows, each with a long description."""
    request = _base()
    per_tool = budget.field_limits["livetokens.v1.Tool.function_declarations"]
    for i in range(budget.max_declarations // per_tool):
        tool = request.constraints.config.tools.add()
        for j in range(per_tool):
            tool.function_declarations.add(name=f"f{i}_{j}", description="d" * 900)
    return request


def long_instruction() -> ts.TokenRequest:
    """The longest system instruction validation allows, 4-byte characters."""
    request = _base()
    request.constraints.config.system_instruction.parts.add(text="😀" * 100_000)
    return request


def fit(request: ts.TokenRequest, max_bytes: int) -> ts.TokenRequest:
    """``request`` with descriptions shortened until it fits in ``max_bytes``."""
    while request.ByteSize() > max_bytes:
        for tool in request.constraints.config.tools:
            for fn in tool.function_declarations:
                fn.description = fn.description[: len(fn.description) * 9 // 10]
                for prop in fn.parameters.properties.values():
                    prop.description = prop.description[: len(prop.description) * 9 // 10]
    return request


def mint_work(raw: bytes, budget: Budget) -> None:
    """What one mint does on the event loop, in order (minus policy and the I/O)."""
    request = ts.TokenRequest.FromString(raw)
    assert not over_budget(request, budget)
    assert not validate(request), validate(request)[:3]
    body = translate(request, now=datetime.now(UTC)).body
    json.dumps(body, separators=(",", ":")).encode()


def measure(work: Callable[[], None], repeat: int) -> list[float]:
    """Milliseconds per run of ``work``."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return times


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    budget = Budget()
    max_bytes = LimitSettings().max_request_bytes
    candidates = {
        "2,000 schema nodes, wide, long descriptions": fit(wide_schemas(budget, 240), max_bytes),
        "2,000 schema nodes, wide, no descriptions": wide_schemas(budget, 0),
        "2,000 schema nodes, 16 deep": deep_schemas(budget),
        "512 declarations, long descriptions": fit(many_declarations(budget), max_bytes),
        "100,000-character system instruction": long_instruction(),
    }
    print("| request (within the default budget) | bytes | event loop, median (min-max) |")
    print("|---|--:|--:|")
    worst = 0.0
    for name, request in candidates.items():
        raw = request.SerializeToString()
        assert len(raw) <= max_bytes, (name, len(raw))
        times = measure(lambda raw=raw: mint_work(raw, budget), args.repeat)
        median = statistics.median(times)
        worst = max(worst, median)
        print(f"| {name} | {len(raw):,} | {median:.1f} ms ({min(times):.1f}-{max(times):.1f}) |")
    print(f"\nworst admitted request: {worst:.1f} ms on the event loop (goal < 20 ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
