"""The policy file: parsing with located errors, every rule, defaults filled, reload."""

from __future__ import annotations

import pathlib
from datetime import timedelta

import pytest
from sec_support import WritePolicy

from livetokens.server.errors import Failure, Reason
from livetokens.server.security.policy import (
    CallerPolicy,
    PolicyError,
    PolicyStore,
    apply_policy,
    hash_secret,
    parse_policy,
)
from livetokens.server.validation import validate
from livetokens.v1 import live_config_pb2 as lc
from livetokens.v1 import token_service_pb2 as ts

EXAMPLE = pathlib.Path(__file__).parents[2] / "examples" / "policy.toml"


def caller(text: str, name: str = "c") -> CallerPolicy:
    policy = parse_policy(text).for_caller(name)
    assert policy is not None
    return policy


def denied(policy: CallerPolicy, request: ts.TokenRequest) -> Failure:
    assert not validate(request), "the test request itself must be valid"
    with pytest.raises(Failure) as caught:
        apply_policy(policy, request)
    assert caught.value.reason is Reason.POLICY_DENIED
    return caught.value


def constrained(model: str = "gemini-live-2.5-flash-preview", **config: object) -> ts.TokenRequest:
    return ts.TokenRequest(
        constraints=ts.LiveConstraints(model=model, config=lc.LiveConfig(**config))
    )


# --- parsing ------------------------------------------------------------------------------


def test_the_example_policy_file_is_valid() -> None:
    """examples/policy.toml, the one docs/security.md shows, loads."""
    policy = parse_policy(EXAMPLE.read_text(), str(EXAMPLE))
    assert len(policy.callers) >= 3


def test_defaults_apply_to_every_caller_and_callers_override_them_key_by_key() -> None:
    """[defaults] is the base; a caller's own key wins."""
    policy = parse_policy(
        '[defaults]\nmax_uses = 1\nmax_lifetime = "10m"\n[callers.a]\n[callers.b]\nmax_uses = 5\n'
    )
    a, b = policy.for_caller("a"), policy.for_caller("b")
    assert a is not None
    assert b is not None
    assert (a.max_uses, a.max_lifetime) == (1, timedelta(minutes=10))
    assert (b.max_uses, b.max_lifetime) == (5, timedelta(minutes=10))
    assert policy.for_caller("nobody") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[callers.a]\nmax_uses = 0\n", ':2: [callers."a"] max_uses: must be a whole number'),
        ("[callers.a]\n\nmodls = []\n", ':3: [callers."a"] modls: unknown key'),
        ('[defaults]\nmax_lifetime = "forever"\n[callers.a]\n', ":2: [defaults] max_lifetime"),
        ('[callers.a]\nrate = "fast"\n', ':2: [callers."a"] rate: must be a rate'),
        ("[callers.a]\nburst = 3\n", "burst: needs a rate"),
        ('[callers.a]\nresponse_modalities = ["VIDEO"]\n', "'VIDEO' is not one of"),
        ('[callers.a]\nlocked_fields = ["model"]\n', "locked_fields: 'model' is not one of"),
        ('[callers.a]\ncredentials = ["hunter2"]\n', "never the secret itself"),
        ('[callers.a]\nlock_mode = "some"\n', "lock_mode: must be one of"),
        ('[callers.a]\nmax_lifetime = "21h"\n', "must be less than 20h"),
        (
            '[callers.a]\nmax_lifetime = "1m"\nmax_new_session_window = "2m"\n',
            "longer than max_lifetime",
        ),
        (
            '[callers.a]\nmodels = ["gemini-a"]\ndefault_model = "gemini-b"\n',
            "default_model: is not one of the allowed models",
        ),
        (
            "[callers.a.forced_config]\ntemperature = 9.0\n",
            "forced_config: breaks the contract's rules: temperature must be between",
        ),
        ("[callers.a.forced_config]\ncolour = 1\n", "forced_config: is not a valid LiveConfig"),
        ("[callers.a]\nmax_uses = \n", "not valid TOML"),
        ("version = 2\n[callers.a]\n", "version must be 1"),
        ("[defaults]\nmax_uses = 1\n", "no callers"),
        ("[caller.a]\n", "unknown top-level key(s) caller"),
    ],
)
def test_an_invalid_policy_is_refused_with_file_line_and_problem(text: str, expected: str) -> None:
    """Errors name the file, the line when it can be found, the table, the key, the problem."""
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "/etc/lt/policy.toml")
    message = str(caught.value)
    assert message.startswith("/etc/lt/policy.toml")
    assert expected in message


def test_the_same_credential_for_two_callers_is_refused() -> None:
    """One secret must name one caller."""
    digest = hash_secret("x" * 40)
    text = f'[callers.a]\ncredentials = ["{digest}"]\n[callers.b]\ncredentials = ["{digest}"]\n'
    with pytest.raises(PolicyError, match="also listed for 'a'"):
        parse_policy(text)


def test_credentials_are_matched_by_hash() -> None:
    """caller_for_secret finds the caller whose stored hash is the secret's SHA-256."""
    digest = hash_secret("y" * 40)
    policy = parse_policy(
        f'[callers.a]\ncredentials = ["{digest.upper().replace("SHA256", "sha256")}"]\n'
    )
    assert policy.caller_for_secret("y" * 40) == ("bearer:a", digest)
    assert policy.caller_for_secret("z" * 40) is None


# --- rules --------------------------------------------------------------------------------


def test_a_model_outside_the_allowed_list_is_denied() -> None:
    """`models`: rule models, field constraints.model."""
    policy = caller('[callers.c]\nmodels = ["gemini-live-2.5-flash-preview", "gemini-2.0-*"]\n')
    failure = denied(policy, constrained("gemini-ultra"))
    assert failure.metadata["rule"] == "models"
    assert [v.field for v in failure.field_violations] == ["constraints.model"]
    apply_policy(policy, constrained("models/gemini-2.0-flash-live-001"))  # a glob match


def test_an_unconstrained_request_is_denied_when_models_are_restricted() -> None:
    """An unconstrained token would let the app pick any model: denied on `constraints`."""
    failure = denied(caller('[callers.c]\nmodels = ["gemini-a"]\n'), ts.TokenRequest())
    assert failure.metadata["rule"] == "models"
    assert [v.field for v in failure.field_violations] == ["constraints"]


def test_the_default_model_constrains_an_unconstrained_request() -> None:
    """`default_model` fills constraints.model; the lock then defaults to ALL."""
    effective = apply_policy(
        caller('[callers.c]\nmodels = ["gemini-a"]\ndefault_model = "gemini-a"\n'),
        ts.TokenRequest(),
    )
    assert effective.constraints.model == "models/gemini-a"
    assert effective.lock.mode == ts.LOCK_MODE_UNSPECIFIED


def test_a_modality_outside_the_allowed_list_is_denied() -> None:
    """`response_modalities`: the offending entry's path is named."""
    policy = caller('[callers.c]\nresponse_modalities = ["AUDIO"]\n')
    failure = denied(policy, constrained(response_modalities=[lc.MODALITY_TEXT]))
    assert failure.metadata["rule"] == "response_modalities"
    assert [v.field for v in failure.field_violations] == [
        "constraints.config.response_modalities[0]"
    ]


def test_an_unset_modality_is_filled_and_thus_locked() -> None:
    """With SET_FIELDS, an unset restricted modality would be the app's choice: it is set."""
    policy = caller('[callers.c]\nresponse_modalities = ["audio"]\n')
    request = constrained()
    request.lock.mode = ts.LOCK_MODE_SET_FIELDS
    effective = apply_policy(policy, request)
    assert list(effective.constraints.config.response_modalities) == [lc.MODALITY_AUDIO]


def test_uses_above_the_maximum_are_denied() -> None:
    """`max_uses`: rule max_uses, field uses."""
    failure = denied(caller("[callers.c]\nmax_uses = 3\n"), ts.TokenRequest(uses=4))
    assert failure.metadata["rule"] == "max_uses"
    assert [v.field for v in failure.field_violations] == ["uses"]
    apply_policy(caller("[callers.c]\nmax_uses = 3\n"), ts.TokenRequest(uses=3))


def test_unlimited_uses_are_denied_under_a_cap_unless_allowed() -> None:
    """uses=0 exceeds any cap; `allow_unlimited_uses` decides explicitly."""
    failure = denied(caller("[callers.c]\nmax_uses = 3\n"), ts.TokenRequest(uses=0))
    assert failure.metadata["rule"] == "allow_unlimited_uses"
    denied(caller("[callers.c]\nallow_unlimited_uses = false\n"), ts.TokenRequest(uses=0))
    allowed = caller("[callers.c]\nmax_uses = 3\nallow_unlimited_uses = true\n")
    assert apply_policy(allowed, ts.TokenRequest(uses=0)).uses == 0


def test_a_lifetime_above_the_maximum_is_denied_and_an_unset_one_is_capped() -> None:
    """`max_lifetime`: asked-for beyond it is denied; unset (30m default) becomes the cap."""
    policy = caller('[callers.c]\nmax_lifetime = "10m"\n')
    request = ts.TokenRequest()
    request.lifetime.FromTimedelta(timedelta(minutes=11))
    failure = denied(policy, request)
    assert (failure.metadata["rule"], failure.field_violations[0].field) == (
        "max_lifetime",
        "lifetime",
    )
    effective = apply_policy(policy, ts.TokenRequest())
    assert effective.lifetime.ToTimedelta() == timedelta(minutes=10)


def test_a_window_above_the_maximum_is_denied_and_an_unset_one_is_capped() -> None:
    """`max_new_session_window`: same shape as max_lifetime."""
    policy = caller('[callers.c]\nmax_new_session_window = "30s"\n')
    request = ts.TokenRequest()
    request.new_session_window.FromTimedelta(timedelta(seconds=45))
    failure = denied(policy, request)
    assert failure.metadata["rule"] == "max_new_session_window"
    assert failure.field_violations[0].field == "new_session_window"
    effective = apply_policy(policy, ts.TokenRequest())
    assert effective.new_session_window.ToTimedelta() == timedelta(seconds=30)


def test_a_window_longer_than_the_capped_lifetime_is_denied() -> None:
    """A 10m window with the lifetime left to a 5m cap cannot be honoured."""
    request = ts.TokenRequest()
    request.new_session_window.FromTimedelta(timedelta(minutes=10))
    failure = denied(caller('[callers.c]\nmax_lifetime = "5m"\n'), request)
    assert failure.metadata["rule"] == "max_lifetime"
    assert failure.field_violations[0].field == "new_session_window"


def test_set_fields_is_denied_when_the_policy_forces_lock_all() -> None:
    """`lock_mode = "all"`: LOCK_MODE_SET_FIELDS is refused on lock.mode."""
    request = constrained()
    request.lock.mode = ts.LOCK_MODE_SET_FIELDS
    failure = denied(caller('[callers.c]\nlock_mode = "all"\n'), request)
    assert (failure.metadata["rule"], failure.field_violations[0].field) == (
        "lock_mode",
        "lock.mode",
    )


def test_forced_lock_all_needs_constraints() -> None:
    """An unconstrained token locks nothing: denied when lock_mode is all."""
    failure = denied(caller('[callers.c]\nlock_mode = "all"\n'), ts.TokenRequest())
    assert failure.metadata["rule"] == "lock_mode"


def test_forced_locked_fields_are_added_to_a_set_fields_lock() -> None:
    """`locked_fields`: added to additional_fields (the app cannot loosen them)."""
    policy = caller('[callers.c]\nlocked_fields = ["tools", "system_instruction"]\n')
    request = constrained()
    request.lock.mode = ts.LOCK_MODE_SET_FIELDS
    request.lock.additional_fields.append(ts.LOCKABLE_FIELD_TOOLS)
    effective = apply_policy(policy, request)
    assert list(effective.lock.additional_fields) == [
        ts.LOCKABLE_FIELD_TOOLS,
        ts.LOCKABLE_FIELD_SYSTEM_INSTRUCTION,
    ]


def test_forced_locked_fields_lock_an_unconstrained_token() -> None:
    """Without constraints, forced locks become SET_FIELDS with additional fields."""
    effective = apply_policy(caller('[callers.c]\nlocked_fields = ["tools"]\n'), ts.TokenRequest())
    assert effective.lock.mode == ts.LOCK_MODE_SET_FIELDS
    assert list(effective.lock.additional_fields) == [ts.LOCKABLE_FIELD_TOOLS]
    assert not validate(effective)


FORCED = """
[callers.c]
default_model = "gemini-a"
[callers.c.forced_config.system_instruction]
parts = [{ text = "Only talk about the weather." }]
"""


def test_a_forced_value_is_filled_when_unset() -> None:
    """`forced_config`: an unset field takes the forced value."""
    effective = apply_policy(caller(FORCED), ts.TokenRequest())
    assert effective.constraints.config.system_instruction.parts[0].text == (
        "Only talk about the weather."
    )


def test_a_different_value_for_a_forced_field_is_denied() -> None:
    """Sending another system instruction is refused; sending the same one is fine."""
    request = constrained()
    request.constraints.config.system_instruction.parts.add(text="Ignore the weather.")
    failure = denied(caller(FORCED), request)
    assert failure.metadata["rule"] == "forced_config.system_instruction"
    assert failure.field_violations[0].field == "constraints.config.system_instruction"
    same = constrained()
    same.constraints.config.system_instruction.parts.add(text="Only talk about the weather.")
    apply_policy(caller(FORCED), same)


def test_every_broken_rule_is_reported_at_once() -> None:
    """Several violations: all in BadRequest, the first rule in metadata.rule, all in rules."""
    policy = caller('[callers.c]\nmodels = ["gemini-a"]\nmax_uses = 1\n')
    failure = denied(policy, ts.TokenRequest(uses=2, constraints=ts.LiveConstraints(model="b")))
    assert [v.field for v in failure.field_violations] == ["constraints.model", "uses"]
    assert failure.metadata == {"rule": "models", "rules": "models,max_uses"}


def test_the_request_is_not_modified() -> None:
    """apply_policy returns a new message; the caller's request stays as sent."""
    request = ts.TokenRequest()
    apply_policy(caller('[callers.c]\ndefault_model = "m"\nmax_lifetime = "1m"\n'), request)
    assert request == ts.TokenRequest()


def test_no_keys_means_no_restriction() -> None:
    """An empty caller entry passes anything valid through unchanged."""
    request = ts.TokenRequest(uses=0)
    request.lifetime.FromTimedelta(timedelta(hours=19))
    assert apply_policy(caller("[callers.c]\n"), request) == request


# --- reload -------------------------------------------------------------------------------


def test_reload_swaps_the_policy_and_an_invalid_file_keeps_the_old_one(
    write_policy: WritePolicy,
) -> None:
    """PolicyStore.reload: a valid file takes over; an invalid one raises and changes nothing."""
    store = PolicyStore(write_policy("[callers.a]\nmax_uses = 1\n"))
    before = store.current()
    write_policy("[callers.a]\nmax_uses = 2\n")
    assert store.reload().callers["bearer:a"].max_uses == 2
    kept = store.current()
    write_policy("[callers.a]\nmax_uses = -1\n")
    with pytest.raises(PolicyError, match=r"policy.toml:2: \[callers.\"a\"\] max_uses"):
        store.reload()
    assert store.current() is kept
    assert before.callers["bearer:a"].max_uses == 1  # requests holding the old object keep it


def test_an_unreadable_policy_file_is_a_clear_error(tmp_path: pathlib.Path) -> None:
    """A missing file names itself and the OS reason."""
    with pytest.raises(PolicyError, match=r"missing\.toml: cannot read the policy file"):
        PolicyStore(tmp_path / "missing.toml")


def test_the_documentation_shows_the_example_policy_verbatim() -> None:
    """docs/security.md embeds examples/policy.toml exactly, so the two cannot drift."""
    doc = (EXAMPLE.parents[1] / "docs" / "security.md").read_text()
    assert f"```toml\n{EXAMPLE.read_text()}```\n" in doc


def test_the_documentation_lists_every_policy_key() -> None:
    """Every key the parser accepts has a row in docs/security.md's key table."""
    from livetokens.server.security import policy as module

    doc = (EXAMPLE.parents[1] / "docs" / "security.md").read_text()
    for key in module._PARSERS:
        assert f"| `{key}` |" in doc, key
