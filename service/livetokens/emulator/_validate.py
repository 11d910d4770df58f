"""Parse and validate a create-token body the way Google does (spec §2, §3.2, §7, §10).

The order imitates a transcoding front end followed by the service: JSON syntax, then
unknown names (all of them, in one answer), then value types, then the service's own
checks (output-only name, ``uses``, the 20-hour limit, the field mask).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from livetokens.emulator import _errors as errors
from livetokens.emulator import _schema as schema
from livetokens.emulator._errors import GoogleError

DEFAULT_USES = 1
DEFAULT_EXPIRE = timedelta(minutes=30)
DEFAULT_NEW_SESSION_EXPIRE = timedelta(seconds=60)
# Each time must be *less than* 20 hours in the future (spec §2, [S][D3]).
MAX_FUTURE = timedelta(hours=20)
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1

_RFC3339 = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})[Tt](?P<time>\d{2}:\d{2}:\d{2})"
    r"(?:\.(?P<frac>\d{1,9}))?(?P<offset>[Zz]|[+-]\d{2}:\d{2})?"
)


@dataclass(frozen=True)
class ParsedToken:
    """A valid AuthToken with defaults filled in; names are canonical camelCase.

    ``setup`` keeps canonical names at its top level and inside ``generationConfig``;
    deeper objects are kept exactly as sent (either spelling), because some of them
    (``labels``, ``parameters.properties``) are maps whose keys are user data.
    """

    uses: int
    expire_time: datetime
    new_session_expire_time: datetime
    setup: dict[str, Any] | None
    field_mask: list[str]
    live_connect_constraints: dict[str, Any] | None


def decode_body(raw: bytes) -> Any:
    """The request body as JSON; an empty body is ``{}``. Raises :class:`GoogleError` otherwise."""
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        # Google echoes the offending text after "Unexpected token."; the emulator
        # does not echo request bytes into its answers.
        raise errors.bad_request(
            [(None, "Unexpected token.")], prefix=errors.INVALID_JSON + " "
        ) from None


def validate(
    body: Any, *, now: datetime, api_version: str, accept_live_connect_constraints: bool
) -> ParsedToken:
    """Check a decoded body and return the token to store, or raise :class:`GoogleError`."""
    if body is None:
        body = {}  # JSON null as a whole body: treated as an empty message. [U]
    if not isinstance(body, dict):
        raise errors.bad_request(
            [(None, "Root element must be a message.")], prefix=errors.INVALID_JSON + " "
        )
    return _Validator(now, api_version, accept_live_connect_constraints).run(body)


class _Validator:
    def __init__(self, now: datetime, api_version: str, accept_lcc: bool) -> None:
        self._now = now
        self._api_version = api_version
        self._top = schema.AUTH_TOKEN_WITH_LCC if accept_lcc else schema.AUTH_TOKEN

    def run(self, body: dict[str, Any]) -> ParsedToken:
        violations: list[tuple[str | None, str]] = []
        top = _names(body, self._top, violations)
        setup_raw = _value(top, schema.SETUP_FIELD)
        setup_fields: dict[str, tuple[str, Any]] = {}
        gen_fields: dict[str, tuple[str, Any]] = {}
        if isinstance(setup_raw, dict):
            setup_fields = _names(setup_raw, schema.SETUP, violations)
            gen_raw = _value(setup_fields, schema.SETUP.lookup["generation_config"])
            if isinstance(gen_raw, dict):
                gen_fields = _names(gen_raw, schema.GENERATION_CONFIG, violations)
        lcc_raw = _value(top, schema.LCC_FIELD)
        lcc_fields: dict[str, tuple[str, Any]] = {}
        if isinstance(lcc_raw, dict):
            lcc_fields = _names(lcc_raw, schema.LIVE_CONNECT_CONSTRAINTS, violations)
        if violations:
            raise errors.bad_request(violations, prefix=errors.INVALID_JSON + " ")

        # Value types (the JSON parser's second kind of complaint).
        for field in self._top.fields:
            self._check_type(top, field, self._top.path)
        for field in schema.SETUP.fields:
            self._check_type(setup_fields, field, schema.SETUP.path)
        for field in schema.LIVE_CONNECT_CONSTRAINTS.fields:
            self._check_type(lcc_fields, field, schema.LIVE_CONNECT_CONSTRAINTS.path)
        if setup_raw is not None and lcc_raw is not None:
            # If liveConnectConstraints is real it is presumably a second member of the
            # `oneof config` that holds bidiGenerateContentSetup (spec §2). [U]
            sent = top["live_connect_constraints"][0]
            raise errors.bad_request(
                [(None, f"Oneof field 'config' is already set. Cannot set '{sent}'")],
                prefix=errors.INVALID_JSON + " ",
            )

        # The service's own checks.
        if _value(top, schema.NAME) is not None:
            # `name` is output only (spec §2). Google may ignore it instead; the emulator
            # rejects it so that a caller sending it is noticed. [U]
            raise errors.bad_request(
                [("auth_token.name", "name is output only and must not be set on create.")]
            )
        uses = self._uses(top)
        expire_time = self._time(top, schema.EXPIRE_TIME, DEFAULT_EXPIRE)
        new_session_expire_time = self._time(
            top, schema.NEW_SESSION_EXPIRE_TIME, DEFAULT_NEW_SESSION_EXPIRE
        )
        # newSessionExpireTime later than expireTime is accepted and stored as sent:
        # whether Google rejects or clamps it is unknown (spec §2). [U]
        mask = _field_mask(_value(top, schema.FIELD_MASK))
        setup = None
        if setup_raw is not None:
            setup = _canonical(setup_fields)
            if gen_fields or "generationConfig" in setup:
                setup["generationConfig"] = _canonical(gen_fields)
            if mask:
                _check_covered(setup, mask)
        lcc = _canonical(lcc_fields) if lcc_raw is not None else None
        return ParsedToken(
            uses=uses,
            expire_time=expire_time,
            new_session_expire_time=new_session_expire_time,
            setup=setup,
            field_mask=mask,
            live_connect_constraints=lcc,
        )

    def _check_type(
        self, fields: Mapping[str, tuple[str, Any]], field: schema.Field, parent: str
    ) -> None:
        if field.proto_name not in fields:
            return
        sent_name, value = fields[field.proto_name]
        if value is None:
            return
        path = f"{parent}.{field.proto_name}"
        kind = field.kind
        if kind in (schema.Kind.ANY, schema.Kind.INT32, schema.Kind.TIMESTAMP):
            return  # INT32 and TIMESTAMP are parsed (and reported) by their own checks
        if isinstance(value, list) and kind is not schema.Kind.REPEATED_MESSAGE:
            raise errors.not_repeating(sent_name, parent)
        if kind is schema.Kind.STRING or kind is schema.Kind.FIELD_MASK:
            if not isinstance(value, str):
                raise errors.invalid_value(path, kind.value, value)
        elif kind is schema.Kind.MESSAGE or kind is schema.Kind.MAP:
            if not isinstance(value, dict):
                raise errors.invalid_value(path, self._type_url(field), value)
        elif kind is schema.Kind.REPEATED_MESSAGE:
            items = value if isinstance(value, list) else [value]
            for index, item in enumerate(items):
                if not isinstance(item, dict):
                    raise errors.invalid_value(f"{path}[{index}]", self._type_url(field), item)

    def _type_url(self, field: schema.Field) -> str:
        if field.kind is schema.Kind.MAP:
            return "map<string, string>"
        package = f"google.ai.generativelanguage.{self._api_version}"
        return f"type.googleapis.com/{package}.{field.type_name}"

    def _uses(self, top: Mapping[str, tuple[str, Any]]) -> int:
        value = _value(top, schema.USES)
        if value is None:
            return DEFAULT_USES
        uses = _int32(value)
        if uses is None:
            raise errors.invalid_value("auth_token.uses", schema.Kind.INT32.value, value)
        if uses < 0:
            # Negative uses are presumably rejected (spec §2); the wording is ours. [U]
            raise errors.bad_request(
                [("auth_token.uses", f"uses must be greater than or equal to 0, got {uses}.")]
            )
        return uses

    def _time(
        self, top: Mapping[str, tuple[str, Any]], field: schema.Field, default: timedelta
    ) -> datetime:
        value = _value(top, field)
        if value is None:
            return self._now + default
        path = f"auth_token.{field.proto_name}"
        if not isinstance(value, str):
            raise errors.invalid_value(path, schema.Kind.TIMESTAMP.value, value)
        parsed = _parse_rfc3339(value)
        if isinstance(parsed, str):
            kind = schema.Kind.TIMESTAMP.value
            text = f"Invalid value at '{path}' ({kind}), Field '{field.proto_name}', {parsed}"
            raise errors.bad_request([(path, text)])
        # Past times are accepted: Google's behaviour for them is unknown (spec §2). [U]
        if parsed >= self._now + MAX_FUTURE:
            # The limit is documented; the wording of Google's error is not. [U]
            raise errors.bad_request(
                [(path, f"{field.proto_name} must be less than 20 hours in the future.")]
            )
        return parsed


def _names(
    obj: Mapping[str, Any], message: schema.Message, violations: list[tuple[str | None, str]]
) -> dict[str, tuple[str, Any]]:
    """Known fields by proto name → (name as sent, value); unknown names become violations."""
    lookup = message.lookup
    found: dict[str, tuple[str, Any]] = {}
    for key, value in obj.items():
        field = lookup.get(key)
        if field is None:
            violations.append(errors.unknown_name(key, message.path))
        elif field.proto_name in found:
            # Both spellings of one field in one object. Google's reaction: [U].
            first = found[field.proto_name][0]
            violations.append(
                (
                    message.path,
                    f"Field \"{field.proto_name}\" at '{message.path}' is set twice, "
                    f'as "{first}" and as "{key}".',
                )
            )
        else:
            found[field.proto_name] = (key, value)
    return found


def _value(fields: Mapping[str, tuple[str, Any]], field: schema.Field) -> Any:
    entry = fields.get(field.proto_name)
    return None if entry is None else entry[1]


def _canonical(fields: Mapping[str, tuple[str, Any]]) -> dict[str, Any]:
    return {
        schema.snake_to_camel(proto): value
        for proto, (_, value) in fields.items()
        if value is not None
    }


def _int32(value: Any) -> int | None:
    """Proto3 JSON int32: a JSON integer, an integral number, or a decimal string."""
    if isinstance(value, bool):
        return None
    integral = (
        isinstance(value, int)
        or (isinstance(value, float) and value.is_integer())
        or (isinstance(value, str) and re.fullmatch(r"-?\d+", value) is not None)
    )
    if not integral:
        return None
    result = int(value)
    return result if _INT32_MIN <= result <= _INT32_MAX else None


def _parse_rfc3339(text: str) -> datetime | str:
    """An aware UTC datetime, or the reason the text is not an RFC 3339 timestamp."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        return "Invalid time format: Failed to parse input"
    offset = match["offset"]
    if offset is None:
        # A naive datetime.isoformat() from the Python SDK lands here (spec §2, [V]).
        return (
            "Illegal timestamp format; timestamps must end with 'Z' or have a valid "
            "timezone offset."
        )
    frac = (match["frac"] or "")[:6].ljust(6, "0")
    try:
        tz = UTC
        if offset not in ("Z", "z"):
            sign = 1 if offset[0] == "+" else -1
            hours, minutes = int(offset[1:3]), int(offset[4:6])
            if hours > 23 or minutes > 59:
                raise ValueError(offset)
            tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
        naive = datetime.fromisoformat(f"{match['date']}T{match['time']}.{frac}")
    except ValueError:
        return "Invalid time format: Failed to parse input"
    return naive.replace(tzinfo=tz).astimezone(UTC)


def _field_mask(value: Any) -> list[str]:
    """The canonical, de-duplicated paths of a comma-separated FieldMask string (spec §3.2)."""
    if not value:
        return []
    paths: list[str] = []
    for raw in str(value).split(","):
        path = _canonical_path(raw)
        if path is None:
            raise GoogleError(400, errors.MASK_INVALID_MESSAGE)
        if path not in paths:  # duplicate paths are tolerated (spec §3.2). [U]
            paths.append(path)
    return paths


def _canonical_path(raw: str) -> str | None:
    """``generation_config.top_k`` → ``generationConfig.topK``; None when not a valid path.

    Valid: a top-level setup field, or ``generationConfig.<GenerationConfig field>``, in
    either spelling per segment. Deeper paths such as ``systemInstruction.parts`` are
    treated as invalid, as the reporter of [I1] suspected. [U]
    """
    segments = raw.split(".")
    setup = schema.SETUP.lookup
    if len(segments) == 1 and segments[0] in setup:
        return setup[segments[0]].json_name
    if len(segments) == 2 and segments[0] in ("generationConfig", "generation_config"):
        field = schema.GENERATION_CONFIG.lookup.get(segments[1])
        if field is not None:
            return f"generationConfig.{field.json_name}"
    return None


def _check_covered(setup: Mapping[str, Any], mask: list[str]) -> None:
    """Every set top-level field and generationConfig subfield must be masked (spec §3.2)."""
    top = {p for p in mask if "." not in p}
    sub = {p.split(".", 1)[1] for p in mask if p.startswith("generationConfig.")}
    for name, value in setup.items():
        if name in top:
            continue
        # generationConfig is also covered by all of its set subfields; an empty one
        # counts as covered once any generationConfig path is masked. [U]
        if (
            name == "generationConfig"
            and isinstance(value, dict)
            and all(k in sub for k in value)
            and (value or sub)
        ):
            continue
        raise GoogleError(400, errors.MASK_UNCOVERED_MESSAGE)
