"""Observability settings: serve's defaults, environment, flags, and clear errors."""

from __future__ import annotations

import pytest

from livetokens.server.cli import build_parser
from livetokens.server.settings import ObservabilitySettings, SettingsError, from_env


def test_serve_defaults_bind_the_admin_ports_on_loopback() -> None:
    """From the environment (none set): admin 8081, health 8082, 5 s drain, text logs."""
    obs = from_env({}).observability
    assert obs == ObservabilitySettings(
        admin_listen="127.0.0.1:8081",
        health_listen="127.0.0.1:8082",
        optional_listeners=("admin", "health"),
        drain_delay=5.0,
        log_format="text",
        otlp_endpoint=None,
        keepalive_time=60.0,
        max_connection_age=300.0,
        max_connection_age_grace=30.0,
        policy_poll_interval=5.0,
    )


def test_environment_then_flags() -> None:
    """LIVETOKENS_* variables apply; flags win; 'off' turns a listener off."""
    env = {
        "LIVETOKENS_ADMIN_LISTEN": "0.0.0.0:9090",
        "LIVETOKENS_HEALTH_LISTEN": "off",
        "LIVETOKENS_LOG_FORMAT": "json",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317",
        "LIVETOKENS_MAX_CONNECTION_AGE": "120",
    }
    obs = from_env(env, drain_delay=12.0, max_connection_age_grace=5.0).observability
    assert obs.admin_listen == "0.0.0.0:9090"
    assert obs.health_listen is None
    assert obs.optional_listeners == ()  # both were given: both must bind
    assert obs.log_format == "json"
    assert obs.otlp_endpoint == "http://collector:4317"
    assert (obs.max_connection_age, obs.max_connection_age_grace) == (120.0, 5.0)
    assert obs.drain_delay == 12.0
    assert from_env(env, otlp_endpoint="https://own:4317").observability.otlp_endpoint == (
        "https://own:4317"
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LIVETOKENS_ADMIN_LISTEN": "8081"}, "--admin-listen must be HOST:PORT"),
        ({"LIVETOKENS_HEALTH_LISTEN": "x:y"}, "--health-listen must be HOST:PORT"),
        ({"LIVETOKENS_LOG_FORMAT": "xml"}, "--log-format must be text or json"),
        ({"LIVETOKENS_DRAIN_DELAY": "-1"}, "--drain-delay must be 0 or more"),
        ({"LIVETOKENS_MAX_CONNECTION_AGE": "soon"}, "--max-connection-age must be a number"),
        ({"LIVETOKENS_OTLP_ENDPOINT": "collector:4317"}, "--otlp-endpoint must be a URL"),
    ],
)
def test_bad_values_name_the_setting(env: dict[str, str], message: str) -> None:
    """Every invalid value is a SettingsError naming the flag."""
    with pytest.raises(SettingsError, match=message):
        from_env(env)


def test_serve_has_every_flag() -> None:
    """The flag names the chart uses exist on `serve`."""
    args = build_parser().parse_args(
        [
            "serve", "--admin-listen", "10.0.0.5:8081", "--health-listen", "10.0.0.5:8082",
            "--drain-delay", "7", "--grace-period", "25", "--log-format", "json",
            "--otlp-endpoint", "http://c:4317", "--keepalive-time", "30",
            "--max-connection-age", "600", "--max-connection-age-grace", "20",
            "--policy-poll-interval", "2", "--admin-port-file", "ports",
        ]
    )  # fmt: skip
    assert (args.admin_listen, args.health_listen, args.log_format) == (
        "10.0.0.5:8081",
        "10.0.0.5:8082",
        "json",
    )
    assert (args.drain_delay, args.grace_period, args.max_connection_age) == (7.0, 25.0, 600.0)
