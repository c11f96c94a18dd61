"""Serving the validator: listening addresses, gunicorn settings, and a decision sink whose
database is away (the validator then denies: no unrecorded allow)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from lifecycle.cli import main
from lifecycle.gateway.serve import (
    DEFAULT_BIND,
    BindError,
    check_bind,
    check_socket_directory,
    gunicorn_options,
)
from lifecycle.gateway.stores import DbDecisionSink, SinkOverflow
from lifecycle.gateway.validator import GatewayDecision

DECISION = GatewayDecision(at=datetime(2026, 12, 6, tzinfo=UTC), version="orders/1.0.0",
                           allowed=False, rule_id="GW-NO-TOKEN", fingerprint=None,
                           jti_hash=None, sub=None, client_id=None, kid=None, iat=None,
                           exp=None, client_address="192.0.2.1")


@pytest.mark.parametrize("bind", ["127.0.0.1:9100", "127.3.4.5:1", "[::1]:9100",
                                  "localhost:9100", "unix:/run/stagegate/validator.sock"])
def test_loopback_and_unix_binds_are_accepted(bind: str) -> None:
    assert check_bind(bind) == bind


@pytest.mark.parametrize("bind", ["0.0.0.0:9100", "10.0.0.5:9100", "[::]:9100",
                                  "example.com:9100"])
def test_other_addresses_need_allow_remote(bind: str) -> None:
    with pytest.raises(BindError, match="loopback"):
        check_bind(bind)
    assert check_bind(bind, allow_remote=True) == bind


@pytest.mark.parametrize("bind", ["9100", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:70000",
                                  "unix:relative.sock", "unix:", "127.0.0.1:http"])
def test_malformed_binds_are_refused(bind: str) -> None:
    with pytest.raises(BindError):
        check_bind(bind, allow_remote=True)


def test_the_command_refuses_a_public_address_before_starting() -> None:
    result = CliRunner().invoke(main, ["validator", "--bind", "0.0.0.0:9100"])
    assert result.exit_code == 2
    assert "not a loopback address" in result.output


def test_gunicorn_settings() -> None:
    options = gunicorn_options("127.0.0.1:9100", workers=3)
    assert options["worker_class"] == "sync" and options["workers"] == 3
    assert options["accesslog"] is None and options["control_socket_disable"] is True
    assert options["limit_request_field_size"] >= 16 * 1024 + 100
    assert options["preload_app"] is False          # each worker builds its own validator
    assert gunicorn_options("unix:/s", workers=2, threads=4)["worker_class"] == "gthread"


def test_a_sink_whose_database_is_away_refuses_beyond_its_queue(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'missing' / 'x.sqlite'}")
    sink = DbDecisionSink(engine, batch=True, interval=60, max_pending=2)
    sink.record(DECISION)
    sink.record(DECISION)
    with pytest.raises(SinkOverflow):
        sink.record(DECISION)
    sink.close()                                    # logs, never raises
    assert sink.written == 0
    with pytest.raises(sa.exc.OperationalError):
        DbDecisionSink(engine, batch=False).record(DECISION)


def test_the_default_bind_is_the_unix_socket_render_points_nginx_at() -> None:
    assert DEFAULT_BIND == "unix:/run/stagegate/validator.sock"
    assert check_bind(DEFAULT_BIND) == DEFAULT_BIND


def test_a_unix_socket_needs_its_directory(tmp_path: Path) -> None:
    check_socket_directory(f"unix:{tmp_path}/validator.sock")
    check_socket_directory("127.0.0.1:9100")
    with pytest.raises(BindError, match="does not exist"):
        check_socket_directory(f"unix:{tmp_path}/missing/validator.sock")


def test_the_command_refuses_a_socket_in_a_missing_directory_before_starting(
        tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["validator", "--bind",
                                       f"unix:{tmp_path}/missing/validator.sock"])
    assert result.exit_code != 0
    assert "does not exist" in result.output
