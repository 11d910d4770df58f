"""What each caller may mint: the policy file, and the request within it.

The policy file is TOML (docs/security.md has every key)::

    version = 1
    [defaults]                       # every caller starts from these
    max_uses = 1
    max_lifetime = "30m"
    [callers."spiffe://example.org/ns/web/sa/frontend"]
    models = ["gemini-live-2.5-flash-preview"]
    rate = "10/s"
    [callers.billing]                # a bearer caller
    credentials = ["sha256:<64 hex digits>"]

A key left out restricts nothing. :func:`apply_policy` returns the *effective*
request: the caller's request with the policy's defaults filled in (a default model,
a lifetime capped to the maximum, forced configuration, forced locks), or raises
PERMISSION_DENIED / POLICY_DENIED naming the rule and the field when the request
asks for more than the policy allows. Nothing a policy restricts is ever left for
the app to change: a restricted field ends up locked in the token.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import hashlib
import hmac
import math
import pathlib
import re
import tomllib
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any, Literal

from google.protobuf import json_format

from livetokens.server import translate as tr
from livetokens.server.errors import Failure, FieldViolation, Reason
from livetokens.server.validation import MODEL_ID, validate
from livetokens.v1 import live_config_pb2 as lc
from livetokens.v1 import token_service_pb2 as ts

WILDCARD = "*"
ANONYMOUS = "anonymous"
# A SPIFFE id (SPIFFE-ID spec §2): lower-case trust domain, path segments of
# letters, digits, '.', '-', '_' (no empty, '.' or '..' segment checked below).
SPIFFE_ID = re.compile(r"^spiffe://[a-z0-9._-]{1,255}(?:/[A-Za-z0-9._-]+)*$")
# How each kind of caller id is proven (docs/security.md, "How a caller is identified").
KINDS = ("spiffe://", "dns:", "bearer:", "proxy:")
_HASH = re.compile(r"^sha256:[0-9a-f]{64}$")
_SPAN = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$")
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|sec|second|m|min|minute|h|hour)\s*$")
_UNIT_SECONDS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60}
_UNIT_SECONDS |= {"h": 3600, "hour": 3600}


class PolicyError(ValueError):
    """The policy file is not valid; the message names the file, the line when known,
    and what is wrong."""


@dataclasses.dataclass(frozen=True)
class Rate:
    """A token-bucket rate: ``per_second`` refill, at most ``burst`` mints at once."""

    per_second: float
    burst: int
    text: str

    def describe(self) -> str:
        """``10/s, burst 20``."""
        return f"{self.text}, burst {self.burst}"


@dataclasses.dataclass(frozen=True)
class CallerPolicy:
    """One caller's limits. None means unrestricted."""

    models: tuple[str, ...] | None = None
    default_model: str | None = None
    response_modalities: tuple[int, ...] | None = None
    max_uses: int | None = None
    allow_unlimited_uses: bool | None = None
    max_lifetime: timedelta | None = None
    max_new_session_window: timedelta | None = None
    lock_mode: Literal["all", "any"] | None = None
    locked_fields: tuple[int, ...] = ()
    forced_config: lc.LiveConfig | None = None
    rate: Rate | None = None
    credentials: tuple[str, ...] = ()

    @property
    def unlimited_uses_allowed(self) -> bool:
        """Whether ``uses = 0`` (unlimited) is allowed: by default only without a cap."""
        if self.allow_unlimited_uses is not None:
            return self.allow_unlimited_uses
        return self.max_uses is None


@dataclasses.dataclass(frozen=True)
class Policy:
    """Every caller's policy, as loaded from one file (or the built-in allow-all)."""

    source: str
    callers: Mapping[str, CallerPolicy]
    # SHA-256 of the file's text ("" for the built-in allow-all), for audit anchors.
    sha256: str = ""

    @classmethod
    def allow_all(cls) -> Policy:
        """No policy file: any authenticated caller, anything the contract allows."""
        return cls(
            "<no policy file: any authenticated caller, no limits>", {WILDCARD: CallerPolicy()}
        )

    @property
    def has_wildcard(self) -> bool:
        """Whether a ``*`` entry admits identities that are not named."""
        return WILDCARD in self.callers

    def names(self, caller: str) -> bool:
        """Whether ``caller`` (a namespaced id) has its own entry."""
        return caller != WILDCARD and caller in self.callers

    def for_caller(self, caller: str) -> CallerPolicy | None:
        """The caller's own entry, else the ``*`` entry, else None. A bare name is a
        bearer caller's (``billing`` is ``bearer:billing``)."""
        with contextlib.suppress(ValueError):
            caller = canonical_caller(caller)
        if caller != WILDCARD and caller in self.callers:
            return self.callers[caller]
        return self.callers.get(WILDCARD)

    def caller_for_secret(self, secret: str) -> tuple[str, str] | None:
        """(caller, stored hash) of the entry holding ``sha256(secret)``, or None.

        Every stored hash is compared, in constant time, whatever matches.
        """
        presented = hash_secret(secret).encode()
        found: tuple[str, str] | None = None
        for caller, policy in self.callers.items():
            for digest in policy.credentials:
                if hmac.compare_digest(presented, digest.encode()) and found is None:
                    found = (caller, digest)
        return found


def canonical_caller(name: str) -> str:
    """A policy entry's caller id in its namespaced form; raises ValueError.

    ``spiffe://…`` (a valid SPIFFE id), ``dns:<name>`` (lower-cased), ``bearer:<name>``,
    ``proxy:<value>``, ``anonymous`` and ``*`` are kept; a bare name is a bearer caller
    (``billing`` → ``bearer:billing``, as in policy files before namespacing).
    """
    if name in (WILDCARD, ANONYMOUS):
        return name
    lowered = name.lower()
    if lowered.startswith("spiffe://"):
        path = name[len("spiffe://") :].split("/")[1:]
        if not SPIFFE_ID.match(name) or any(seg in (".", "..") for seg in path):
            raise ValueError(
                f"{name!r} is not a valid SPIFFE id (spiffe://<lower-case trust domain>/<path>)"
            )
        return name
    for kind in KINDS[1:]:
        if lowered.startswith(kind):
            rest = name[len(kind) :]
            if not rest:
                raise ValueError(f"{name!r} names no {kind[:-1]} identity after the prefix")
            return kind + (rest.lower() if kind == "dns:" else rest)
    if ":" in name:
        raise ValueError(
            f"{name!r} has an unknown kind; a caller id is spiffe://…, dns:<name>, "
            "bearer:<name>, proxy:<value>, anonymous, * or a bare bearer name"
        )
    return "bearer:" + name


def hash_secret(secret: str) -> str:
    """The form a bearer secret is stored in: ``sha256:`` + 64 lowercase hex digits."""
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()


# --- loading -----------------------------------------------------------------------------


def parse_duration(value: object) -> timedelta:
    """``"90s"``, ``"30m"``, ``"1h30m"`` or a number of seconds; more than 0."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError('must be a duration such as "30m", "1h", "90s" or seconds')
    if isinstance(value, int | float):
        span = timedelta(seconds=value)
    else:
        match = _SPAN.match(value.strip())
        if not value.strip() or not match:
            raise ValueError(f'is not a duration: {value!r} (use e.g. "30m", "1h", "90s")')
        h, m, s = match.groups()
        span = timedelta(hours=int(h or 0), minutes=int(m or 0), seconds=float(s or 0))
    if span <= timedelta(0):
        raise ValueError("must be more than 0")
    return span


def parse_rate(value: object, burst: object) -> Rate:
    """``"10/s"``, ``"60/m"`` or ``"100/h"``; ``burst`` defaults to one second's worth
    (at least 1)."""
    match = _RATE.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f'must be a rate such as "10/s", "60/m" or "100/h", got {value!r}')
    per_second = float(match.group(1)) / _UNIT_SECONDS[match.group(2)]
    if per_second <= 0:
        raise ValueError("must be more than 0")
    if burst is None:
        burst = max(1, math.ceil(per_second))
    if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
        raise ValueError(f"burst must be a whole number, 1 or more, got {burst!r}")
    return Rate(per_second, burst, str(value).strip())


def _enum_values(
    values: object, enum: Any, prefix: str, *, exclude_zero: bool = True
) -> tuple[int, ...]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ValueError("must be a list of names")
    out = []
    for name in values:
        key = name.strip().upper().replace("-", "_")
        full = key if key.startswith(prefix) else prefix + key
        names = list(enum.keys())
        if full not in names or (exclude_zero and enum.Value(full) == 0):
            allowed = ", ".join(k.removeprefix(prefix).lower() for k in names[1:])
            raise ValueError(f"{name!r} is not one of: {allowed}")
        out.append(int(enum.Value(full)))
    return tuple(dict.fromkeys(out))


def _model(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty string")
    return tr.model_name(value.strip())


def _positive_int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"must be a whole number, 1 or more, got {value!r}")
    return value


def _boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, got {value!r}")
    return value


def _forced_config(value: object) -> lc.LiveConfig:
    if not isinstance(value, dict):
        raise ValueError("must be a table of LiveConfig fields (proto3 JSON names)")
    config = lc.LiveConfig()
    try:
        json_format.ParseDict(value, config)
    except json_format.ParseError as exc:
        raise ValueError(f"is not a valid LiveConfig: {exc}") from None
    probe = ts.TokenRequest(constraints=ts.LiveConstraints(model="probe", config=config))
    problems = validate(probe)
    if problems:
        raise ValueError(
            "breaks the contract's rules: "
            + "; ".join(
                f"{v.field.removeprefix('constraints.config.')} {v.description}" for v in problems
            )
        )
    return config


# Every key a [defaults] or [callers.X] table may hold, with its parser.
_PARSERS: Mapping[str, Any] = {
    "models": lambda v: tuple(_model(m, "each model") for m in _list(v)),
    "default_model": lambda v: _model(v, "default_model"),
    "response_modalities": lambda v: _enum_values(v, lc.Modality, "MODALITY_") or _empty(),
    "max_uses": _positive_int,
    "allow_unlimited_uses": _boolean,
    "max_lifetime": parse_duration,
    "max_new_session_window": parse_duration,
    "lock_mode": lambda v: _choice(v, ("all", "any")),
    "locked_fields": lambda v: _enum_values(v, ts.LockableField, "LOCKABLE_FIELD_"),
    "forced_config": _forced_config,
    "rate": lambda v: v,  # parsed with burst, below
    "burst": lambda v: v,
    "credentials": lambda v: tuple(_credential(c) for c in _list(v)),
}


def _list(value: object) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError("must be a list")
    return value


def _empty() -> tuple[int, ...]:
    raise ValueError("must name at least one modality")


def _choice(value: object, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"must be one of {', '.join(repr(c) for c in choices)}, got {value!r}")
    return str(value)


def _credential(value: object) -> str:
    if not isinstance(value, str) or not _HASH.match(value.strip().lower()):
        raise ValueError(
            'each credential must be "sha256:" and 64 hex digits (the secret\'s SHA-256, '
            "e.g. from `livetokens hash-secret`), never the secret itself"
        )
    return value.strip().lower()


class _Source:
    """The file's text, to point errors at a line."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()

    def error(self, table: str, key: str | None, problem: str) -> PolicyError:
        line = self._find(table, key)
        where = f"{self.path}:{line}" if line else self.path
        what = f"[{table}] {key}" if key else f"[{table}]"
        return PolicyError(f"{where}: {what}: {problem}")

    def _find(self, table: str, key: str | None) -> int | None:
        header = re.compile(r"^\s*\[\s*" + _table_pattern(table) + r"\s*\]\s*(#.*)?$")
        start = next((i for i, line in enumerate(self.lines) if header.match(line)), None)
        if start is None:
            return None
        if key is None:
            return start + 1
        key_line = re.compile(r"^\s*" + re.escape(key) + r"\s*[=.]")
        for i in range(start + 1, len(self.lines)):
            if re.match(r"^\s*\[", self.lines[i]):
                break
            if key_line.match(self.lines[i]):
                return i + 1
        return start + 1


def _table_pattern(table: str) -> str:
    head, sep, name = table.partition(".")
    if not sep:
        return re.escape(head)
    name = name.strip('"')
    quoted = "|".join(re.escape(q) for q in (f'"{name}"', f"'{name}'", name))
    return re.escape(head) + r"\s*\.\s*(?:" + quoted + ")"


def _parse_table(raw: Mapping[str, Any], table: str, source: _Source) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    for key, value in raw.items():
        parser = _PARSERS.get(key)
        if parser is None:
            known = ", ".join(sorted(_PARSERS))
            raise source.error(table, key, f"unknown key (known keys: {known})")
        if key == "credentials" and table == "defaults":
            raise source.error(table, key, "credentials belong to one caller, not to defaults")
        try:
            parsed[key] = parser(value)
        except ValueError as exc:
            raise source.error(table, key, str(exc)) from None
    return parsed


def _caller_policy(merged: Mapping[str, Any], table: str, source: _Source) -> CallerPolicy:
    fields = {k: v for k, v in merged.items() if k not in ("rate", "burst")}
    if "rate" in merged:
        try:
            fields["rate"] = parse_rate(merged["rate"], merged.get("burst"))
        except ValueError as exc:
            raise source.error(table, "rate", str(exc)) from None
    elif "burst" in merged:
        raise source.error(table, "burst", "needs a rate")
    policy = CallerPolicy(**fields)
    if (
        policy.default_model
        and policy.models is not None
        and not _model_allowed(policy.default_model, policy.models)
    ):
        raise source.error(table, "default_model", "is not one of the allowed models")
    for model in (policy.default_model, *(policy.models or ())):
        if model and not MODEL_ID.match(model.replace("*", "x").replace("?", "x")):
            raise source.error(table, "models", f"{model!r} is not a model id")
    if (
        policy.max_lifetime is not None
        and policy.max_new_session_window is not None
        and policy.max_new_session_window > policy.max_lifetime
    ):
        raise source.error(table, "max_new_session_window", "is longer than max_lifetime")
    if policy.max_lifetime is not None and policy.max_lifetime >= tr.MAX_LIFETIME:
        raise source.error(table, "max_lifetime", "must be less than 20h (Google's limit)")
    return policy


def parse_policy(text: str, path: str = "<policy>") -> Policy:
    """A Policy from TOML text; raises :class:`PolicyError`."""
    source = _Source(path, text)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{path}: not valid TOML: {exc}") from None
    unknown = set(document) - {"version", "defaults", "callers"}
    if unknown:
        raise PolicyError(
            f"{path}: unknown top-level key(s) {', '.join(sorted(unknown))} "
            "(known: version, defaults, callers)"
        )
    if document.get("version", 1) != 1:
        raise PolicyError(f"{path}: version must be 1, got {document['version']!r}")
    defaults_raw = document.get("defaults", {})
    callers_raw = document.get("callers", {})
    if not isinstance(defaults_raw, dict):
        raise PolicyError(f"{path}: defaults must be a table ([defaults])")
    if not isinstance(callers_raw, dict) or not callers_raw:
        raise PolicyError(
            f'{path}: no callers: add at least one [callers."<id>"] table '
            "(an empty policy would refuse everyone)"
        )
    defaults = _parse_table(defaults_raw, "defaults", source)
    callers: dict[str, CallerPolicy] = {}
    written: dict[str, str] = {}  # canonical id → the table name as written
    for caller, raw in callers_raw.items():
        table = f'callers."{caller}"'
        if not isinstance(raw, dict):
            raise source.error(table, None, "must be a table of keys")
        if not caller.strip() or caller != caller.strip():
            raise source.error(table, None, "a caller id must be non-empty, without spaces")
        try:
            canonical = canonical_caller(caller)
        except ValueError as exc:
            raise source.error(table, None, str(exc)) from None
        if canonical in callers:
            raise source.error(table, None, f"names the same caller as another entry ({canonical})")
        own = _parse_table(raw, table, source)
        if "credentials" in own and not canonical.startswith("bearer:"):
            raise source.error(
                table,
                "credentials",
                "bearer credentials belong to a bearer caller (a bare name or bearer:<name>), "
                f"not to {canonical.split(':')[0]} identities",
            )
        callers[canonical] = _caller_policy({**defaults, **own}, table, source)
        written[canonical] = caller
    seen: dict[str, str] = {}
    for caller, policy in callers.items():
        for digest in policy.credentials:
            if digest in seen and seen[digest] != written[caller]:
                raise source.error(
                    f'callers."{written[caller]}"',
                    "credentials",
                    f"the same credential is also listed for {seen[digest]!r}",
                )
            seen[digest] = written[caller]
    return Policy(path, callers, hashlib.sha256(text.encode()).hexdigest())


def load_policy(path: pathlib.Path) -> Policy:
    """Read and parse the policy file; raises :class:`PolicyError` (also when unreadable)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read the policy file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise PolicyError(f"{path}: the policy file is not UTF-8 text") from None
    return parse_policy(text, str(path))


# --- applying ----------------------------------------------------------------------------


def _model_allowed(model: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(model, pattern) for pattern in patterns)


class _Denials:
    def __init__(self) -> None:
        self.items: list[tuple[str, FieldViolation]] = []

    def add(self, rule: str, field: str, description: str) -> None:
        self.items.append((rule, FieldViolation(field, f"{description} (policy rule {rule})")))


def policy_denied(items: Iterable[tuple[str, FieldViolation]]) -> Failure:
    """PERMISSION_DENIED / POLICY_DENIED: ``metadata.rule`` is the first rule broken,
    BadRequest lists every field."""
    items = list(items)
    rules = list(dict.fromkeys(rule for rule, _ in items))
    fields = ", ".join(dict.fromkeys(v.field for _, v in items))
    metadata = {"rule": rules[0]}
    if len(rules) > 1:
        metadata["rules"] = ",".join(rules)
    return Failure(
        Reason.POLICY_DENIED,
        f"The request is outside this caller's policy ({fields}); see google.rpc.BadRequest.",
        field_violations=[v for _, v in items],
        metadata=metadata,
    )


def caller_unknown() -> Failure:
    """POLICY_DENIED for a caller the policy in force no longer names."""
    return Failure(
        Reason.POLICY_DENIED,
        "This caller has no entry in livetokens' policy.",
        metadata={"rule": "callers"},
    )


def _same_field(a: lc.LiveConfig, b: lc.LiveConfig, name: str) -> bool:
    left, right = lc.LiveConfig(), lc.LiveConfig()
    left.MergeFrom(a)
    right.MergeFrom(b)
    for message in (left, right):
        for other in lc.LiveConfig.DESCRIPTOR.fields:
            if other.name != name:
                message.ClearField(other.name)
    return left.SerializeToString(deterministic=True) == right.SerializeToString(deterministic=True)


def _is_set(config: lc.LiveConfig, name: str) -> bool:
    field = lc.LiveConfig.DESCRIPTOR.fields_by_name[name]
    if field.is_repeated:
        return len(getattr(config, name)) > 0
    if field.has_presence:
        return config.HasField(name)
    return bool(getattr(config, name))


def _span(text: timedelta) -> str:
    seconds = text.total_seconds()
    if seconds % 3600 == 0:
        return f"{seconds / 3600:g}h"
    if seconds % 60 == 0:
        return f"{seconds / 60:g}m"
    return f"{seconds:g}s"


def apply_policy(policy: CallerPolicy, request: ts.TokenRequest) -> ts.TokenRequest:
    """The effective request: ``request`` (already valid) within ``policy``.

    Unset values are filled from the policy; values beyond it are refused with
    POLICY_DENIED (every broken rule at once). The result is a new message.
    """
    effective = ts.TokenRequest()
    effective.CopyFrom(request)
    denials = _Denials()
    _model_rules(policy, effective, denials)
    _use_rules(policy, effective, denials)
    _time_rules(policy, request, effective, denials)
    if effective.HasField("constraints"):
        _config_rules(policy, effective, denials)
    _lock_rules(policy, effective, denials)
    if denials.items:
        raise policy_denied(denials.items)
    # ``request`` was valid on entry, so only what the policy changed can break a rule;
    # an unchanged request (the common case) skips a second full validation.
    leftover = validate(effective) if effective != request else []
    if leftover:  # a default the policy filled conflicts with the request
        raise policy_denied(
            (
                "policy",
                FieldViolation(v.field, f"{v.description} once the policy's defaults are applied"),
            )
            for v in leftover
        )
    return effective


def _needs_constraints(policy: CallerPolicy) -> str | None:
    """The first rule that only a constrained token can satisfy."""
    if policy.models is not None:
        return "models"
    if policy.response_modalities is not None:
        return "response_modalities"
    if policy.forced_config is not None:
        return "forced_config"
    if policy.lock_mode == "all":
        return "lock_mode"
    return None


def _model_rules(policy: CallerPolicy, effective: ts.TokenRequest, denials: _Denials) -> None:
    if not effective.HasField("constraints"):
        if policy.default_model:
            effective.constraints.model = policy.default_model
            return
        rule = _needs_constraints(policy)
        if rule is not None:
            denials.add(
                rule,
                "constraints",
                "this caller's tokens must be constrained to a model; set constraints.model",
            )
        return
    model = tr.model_name(effective.constraints.model)
    if policy.models is not None and not _model_allowed(model, policy.models):
        denials.add(
            "models",
            "constraints.model",
            f"{model} is not allowed for this caller (allowed: {', '.join(policy.models)})",
        )


def _use_rules(policy: CallerPolicy, effective: ts.TokenRequest, denials: _Denials) -> None:
    uses = effective.uses if effective.HasField("uses") else tr.DEFAULT_USES
    if uses == 0 and not policy.unlimited_uses_allowed:
        denials.add("allow_unlimited_uses", "uses", "unlimited uses (0) are not allowed")
    elif policy.max_uses is not None and uses > policy.max_uses:
        denials.add("max_uses", "uses", f"must be at most {policy.max_uses}, got {uses}")


def _time_rules(
    policy: CallerPolicy,
    request: ts.TokenRequest,
    effective: ts.TokenRequest,
    denials: _Denials,
) -> None:
    lifetime = tr.DEFAULT_LIFETIME
    if request.HasField("lifetime"):
        lifetime = request.lifetime.ToTimedelta()
        if policy.max_lifetime is not None and lifetime > policy.max_lifetime:
            denials.add(
                "max_lifetime",
                "lifetime",
                f"must be at most {_span(policy.max_lifetime)}, got {_span(lifetime)}",
            )
    elif policy.max_lifetime is not None and lifetime > policy.max_lifetime:
        lifetime = policy.max_lifetime
        effective.lifetime.FromTimedelta(lifetime)
    maximum = policy.max_new_session_window
    if request.HasField("new_session_window"):
        window = request.new_session_window.ToTimedelta()
        if maximum is not None and window > maximum:
            denials.add(
                "max_new_session_window",
                "new_session_window",
                f"must be at most {_span(maximum)}, got {_span(window)}",
            )
        elif window > lifetime and not request.HasField("lifetime"):
            denials.add(
                "max_lifetime",
                "new_session_window",
                f"needs a lifetime of at least {_span(window)}, but this caller's tokens "
                f"live at most {_span(lifetime)}",
            )
    else:
        window = min(tr.DEFAULT_NEW_SESSION_WINDOW, lifetime)
        if maximum is not None and window > maximum:
            effective.new_session_window.FromTimedelta(maximum)


def _config_rules(policy: CallerPolicy, effective: ts.TokenRequest, denials: _Denials) -> None:
    config = effective.constraints.config
    base = "constraints.config"
    if policy.response_modalities is not None:
        allowed = policy.response_modalities
        if config.response_modalities:
            for i, value in enumerate(config.response_modalities):
                if value not in allowed:
                    names = ", ".join(lc.Modality.Name(v) for v in allowed)
                    denials.add(
                        "response_modalities",
                        f"{base}.response_modalities[{i}]",
                        f"{lc.Modality.Name(value)} is not allowed (allowed: {names})",
                    )
        else:
            config.response_modalities.append(allowed[0])  # type: ignore[arg-type]
    forced = policy.forced_config
    if forced is None:
        return
    for field, _ in forced.ListFields():
        name = field.name
        if _is_set(config, name) and not _same_field(config, forced, name):
            denials.add(
                f"forced_config.{name}",
                f"{base}.{name}",
                "is fixed by this caller's policy; leave it unset or send the same value",
            )
        elif not _is_set(config, name):
            only = lc.LiveConfig()
            only.MergeFrom(forced)
            for other, _ in only.ListFields():
                if other.name != name:
                    only.ClearField(other.name)
            config.MergeFrom(only)


def _lock_rules(policy: CallerPolicy, effective: ts.TokenRequest, denials: _Denials) -> None:
    lock = effective.lock
    constrained = effective.HasField("constraints")
    if policy.lock_mode == "all" and constrained and lock.mode == ts.LOCK_MODE_SET_FIELDS:
        denials.add("lock_mode", "lock.mode", "this caller's tokens must use LOCK_MODE_ALL")
        return
    locks_all = constrained and lock.mode in (ts.LOCK_MODE_UNSPECIFIED, ts.LOCK_MODE_ALL)
    if not policy.locked_fields or locks_all:
        return
    # Lock the fields the policy forces: in SET_FIELDS mode (or for an unconstrained
    # token) they are added to additional_fields, which forces them to the token's
    # value or, when it sets none, to their default.
    lock.mode = ts.LOCK_MODE_SET_FIELDS
    present = set(lock.additional_fields)
    for value in policy.locked_fields:
        if value not in present:
            lock.additional_fields.append(value)  # type: ignore[arg-type]


class PolicyStore:
    """The policy in force. ``reload()`` swaps in a new one atomically: requests already
    running keep the policy they started with; an invalid file changes nothing."""

    def __init__(self, path: pathlib.Path | None) -> None:
        """Load ``path`` (None: the built-in allow-all); raises :class:`PolicyError`."""
        self.path = path
        self._policy = load_policy(path) if path is not None else Policy.allow_all()

    def current(self) -> Policy:
        """The policy in force now."""
        return self._policy

    def reload(self) -> Policy:
        """Re-read the file and put it in force; raises :class:`PolicyError` and keeps
        the old policy when the file is not valid."""
        if self.path is None:
            return self._policy
        self._policy = load_policy(self.path)
        return self._policy
