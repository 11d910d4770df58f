"""Log formats (``--log-format text|json``) and the per-call fields JSON lines carry.

The servicer binds the call's fields (``request_id``, ``caller``, ``trace_id``, later
``reason`` or ``fingerprint``) with :func:`bind_call`; they live in a context variable,
so every line logged while handling that call, in the use case or the upstream client,
carries them without being passed around. Never bind a secret: the fields are the
token *fingerprint*, never its name, and never a credential.

grpc-core writes its own lines to stderr, outside Python logging; ``serve`` silences
all but its errors by default (``GRPC_VERBOSITY=ERROR``; set the variable to see more).
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

CALL_FIELDS = ("trace_id", "request_id", "caller", "reason", "fingerprint")

_call: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "livetokens_call", default=None
)


def bind_call(**fields: str) -> contextvars.Token[dict[str, str] | None]:
    """Start a call's log fields (empty values are left out); returns the reset token."""
    return _call.set({k: v for k, v in fields.items() if v})


def update_call(**fields: str) -> None:
    """Add fields to the current call's log fields (no-op outside a call)."""
    current = _call.get()
    if current is not None:
        current.update({k: v for k, v in fields.items() if v})


def reset_call(token: contextvars.Token[dict[str, str] | None]) -> None:
    """End the call's log fields."""
    _call.reset(token)


def call_fields() -> dict[str, str]:
    """The current call's log fields, with the trace id of the current span if any."""
    fields = dict(_call.get() or {})
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        fields["trace_id"] = format(context.trace_id, "032x")
    return fields


def trace_id_from_traceparent(value: str) -> str:
    """The trace id of a W3C ``traceparent`` header, or "" when it is not well formed."""
    parts = value.strip().split("-")
    if len(parts) < 4 or len(parts[1]) != 32 or parts[1] == "0" * 32:
        return ""
    try:
        int(parts[1], 16)
    except ValueError:
        return ""
    return parts[1].lower()


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the call's fields, and
    ``exception`` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(call_fields())
        if worker_index():
            entry["worker"] = int(worker_index())
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def worker_index() -> str:
    """Which worker of ``serve --workers N`` this process is ("" when not one)."""
    value = os.environ.get("LIVETOKENS_WORKER_INDEX", "")
    return value if value.isdigit() else ""


def configure(log_format: str, level: str) -> None:
    """Send the root logger's records to stderr in ``log_format`` (text or json)."""
    handler = logging.StreamHandler(sys.stderr)
    # A worker of `serve --workers N` says which one it is on every line.
    text = TEXT_FORMAT.replace("%(message)s", f"[worker {worker_index()}] %(message)s")
    handler.setFormatter(
        JsonFormatter()
        if log_format == "json"
        else logging.Formatter(text if worker_index() else TEXT_FORMAT)
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
