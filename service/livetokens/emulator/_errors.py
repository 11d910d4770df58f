"""Google-shaped error bodies: ``{"error": {"code", "message", "status", "details"}}`` (spec §7).

Every error the emulator answers goes through :class:`GoogleError`, so each body has the
JSON-encoded ``google.rpc.Status`` shape the SDKs parse (``code`` = HTTP status,
``status`` = canonical code name, ``details`` = typed ``google.rpc`` messages, only when
there are any).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

TYPE_PREFIX = "type.googleapis.com/google.rpc."

# HTTP status → canonical status name and Google's generic message for it (spec §7).
_CANONICAL: Mapping[int, tuple[str, str]] = {
    400: ("INVALID_ARGUMENT", "Request contains an invalid argument."),
    401: (
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, "
        "login cookie or other valid authentication credential.",
    ),
    403: ("PERMISSION_DENIED", "The caller does not have permission"),
    404: ("NOT_FOUND", "Requested entity was not found."),
    409: ("ABORTED", "The operation was aborted."),
    429: ("RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
    499: ("CANCELLED", "The operation was cancelled."),
    500: (
        "INTERNAL",
        "An internal error has occurred. Please retry or report in "
        "https://developers.generativeai.google/guide/troubleshooting",
    ),
    501: ("UNIMPLEMENTED", "Operation is not implemented, or supported, or enabled."),
    502: ("UNAVAILABLE", "The service is currently unavailable."),  # [U] GFE 502s are HTML
    503: ("UNAVAILABLE", "The service is currently unavailable."),
    504: ("DEADLINE_EXCEEDED", "Deadline expired before operation could complete."),
}

INVALID_JSON = "Invalid JSON payload received."
API_KEY_INVALID_MESSAGE = "API key not valid. Please pass a valid API key."
UNREGISTERED_CALLER_MESSAGE = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)
MASK_INVALID_MESSAGE = "field_mask is invalid for BidiGenerateContentSetup"
MASK_UNCOVERED_MESSAGE = (
    "BidiGenerateContentSetup contains fields that are not specified in field_mask"
)


def status_name(code: int) -> str:
    """The canonical status name Google pairs with an HTTP status (UNKNOWN if none)."""
    return _CANONICAL.get(code, ("UNKNOWN", ""))[0]


class GoogleError(Exception):
    """An answer in Google's error shape; raise it anywhere in request handling."""

    def __init__(
        self,
        code: int,
        message: str | None = None,
        *,
        status: str | None = None,
        details: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        status_default, message_default = _CANONICAL.get(code, ("UNKNOWN", "Unknown error."))
        self.code = code
        self.status = status or status_default
        self.message = message if message is not None else message_default
        self.details = [dict(d) for d in details]
        super().__init__(f"{code} {self.status}: {self.message}")

    def body(self) -> dict[str, Any]:
        """The JSON object Google would answer with."""
        error: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status}
        if self.details:
            error["details"] = self.details
        return {"error": error}

    def encode(self) -> bytes:
        """The body as UTF-8 JSON, indented like Google's answers."""
        return json.dumps(self.body(), indent=2).encode()


def detail(type_name: str, **fields: Any) -> dict[str, Any]:
    """One ``google.rpc`` detail in JSON form: ``detail("RetryInfo", retryDelay="25s")``."""
    return {"@type": TYPE_PREFIX + type_name, **fields}


def bad_request(violations: Sequence[tuple[str | None, str]], *, prefix: str = "") -> GoogleError:
    """400 INVALID_ARGUMENT with a ``BadRequest``; violations are (field path or None, text).

    The message is every description, one per line, each preceded by ``prefix``;
    this is how Google reports several JSON-parse problems at once.
    """
    lines = [f"{prefix}{description}" for _, description in violations]
    field_violations = []
    for field, description in violations:
        violation = {"description": f"{prefix}{description}"}
        if field:
            violation = {"field": field, **violation}
        field_violations.append(violation)
    return GoogleError(
        400, "\n".join(lines), details=[detail("BadRequest", fieldViolations=field_violations)]
    )


def unknown_name(name: str, path: str) -> tuple[str, str]:
    """The violation for a JSON name the message does not have (spec §7, [I16] shape)."""
    return path, f"Unknown name \"{name}\" at '{path}': Cannot find field."


def invalid_value(path: str, type_name: str, value: Any) -> GoogleError:
    """400 for a value of the wrong type: ``Invalid value at '…' (TYPE), value``. [U]"""
    rendered = json.dumps(value, ensure_ascii=False)
    if len(rendered) > 80:
        rendered = rendered[:77] + "..."
    return bad_request([(path, f"Invalid value at '{path}' ({type_name}), {rendered}")])


def not_repeating(name: str, parent: str) -> GoogleError:
    """400 for a JSON list where a singular field is expected (ESF wording). [U]"""
    return bad_request(
        [
            (
                parent,
                f"Unknown name \"{name}\" at '{parent}': "
                "Proto field is not repeating, cannot start list.",
            )
        ],
        prefix=INVALID_JSON + " ",
    )


def api_key_invalid() -> GoogleError:
    """400 for a key Google does not know: ErrorInfo API_KEY_INVALID + LocalizedMessage (§7)."""
    return GoogleError(
        400,
        API_KEY_INVALID_MESSAGE,
        details=[
            detail(
                "ErrorInfo",
                reason="API_KEY_INVALID",
                domain="googleapis.com",
                metadata={"service": "generativelanguage.googleapis.com"},
            ),
            detail("LocalizedMessage", locale="en-US", message=API_KEY_INVALID_MESSAGE),
        ],
    )


def api_key_missing() -> GoogleError:
    """403 for a request without any key (spec §7, [T10]).

    Whether Google adds details to this body is [U]; the emulator sends none.
    """
    return GoogleError(403, UNREGISTERED_CALLER_MESSAGE)


def rate_limited(retry_delay: str) -> GoogleError:
    """429 RESOURCE_EXHAUSTED with QuotaFailure, Help and RetryInfo, in Google's order ([T9]).

    Whether auth_tokens has its own quota is [U]; the metric and quota id below are
    modelled on the generic per-minute request quota and are illustrative only.
    """
    return GoogleError(
        429,
        "You exceeded your current quota, please check your plan and billing details. "
        "For more information on this error, head to: "
        "https://ai.google.dev/gemini-api/docs/rate-limits.",
        details=[
            detail(
                "QuotaFailure",
                violations=[
                    {
                        "quotaMetric": "generativelanguage.googleapis.com/auth_token_requests",
                        "quotaId": "AuthTokenRequestsPerMinutePerProject",
                        "quotaDimensions": {"location": "global"},
                        "quotaValue": "60",
                    }
                ],
            ),
            detail(
                "Help",
                links=[
                    {
                        "description": "Learn more about Gemini API quotas",
                        "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
                    }
                ],
            ),
            detail("RetryInfo", retryDelay=retry_delay),
        ],
    )
