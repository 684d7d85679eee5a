"""`make run`'s settings from the environment (ports, CORS origins) and its message for a taken port:
infra/local/env.py and infra/local/stack.py, without starting anything (a socket is bound to take a port)."""

from __future__ import annotations

import json
import socket

import pytest

from infra.local import env, stack


def test_ports_come_from_the_environment_with_the_documented_defaults():
    assert {name: env.port_from_environment(name, {}) for name in env.PORT_VARIABLES} == {
        "MOTO_PORT": 5000,
        "API_PORT": 8000,
        "CONSOLE_PORT": 8080,
    }
    assert env.port_from_environment("MOTO_PORT", {"MOTO_PORT": "5050"}) == 5050
    assert env.port_from_environment("API_PORT", {"API_PORT": " "}) == 8000


@pytest.mark.parametrize("value", ["abc", "0", "70000", "-1", "80.5"])
def test_a_port_that_is_not_a_port_number_stops_with_its_name(value):
    with pytest.raises(SystemExit, match=f"API_PORT={value!r} is not a port number"):
        env.port_from_environment("API_PORT", {"API_PORT": value})


def test_the_developers_cors_origins_and_ports_win_over_the_stage_file():
    configured = env.stage_environment("local")
    chosen = env.local_stack_environment(
        {"CORS_ALLOWED_ORIGINS": "http://localhost:4200", "MOTO_PORT": "5050", "CONSOLE_PORT": "8081"}
    )
    assert chosen["CORS_ALLOWED_ORIGINS"] == "http://localhost:4200"
    assert chosen["AWS_ENDPOINT_URL"] == "http://127.0.0.1:5050"
    assert chosen["CONSOLE_ORIGIN"] == "http://127.0.0.1:8081"  # the console on its port stays allowed
    assert chosen["TABLE_PREFIX"] == configured["TABLE_PREFIX"]
    default = env.local_stack_environment({})
    assert default["CORS_ALLOWED_ORIGINS"] == configured["CORS_ALLOWED_ORIGINS"]
    assert default["AWS_ENDPOINT_URL"] == configured["AWS_ENDPOINT_URL"] == "http://127.0.0.1:5000"


@pytest.fixture
def taken_port():
    with socket.socket() as sock:
        sock.bind((env.HOST, 0))
        sock.listen()
        yield sock.getsockname()[1]


def _stack_file(tmp_path, **ports: int):
    path = tmp_path / "stack.json"
    urls = {key: f"http://127.0.0.1:{port}" for key, port in ports.items()}
    path.write_text(json.dumps(urls))
    return path


def test_a_port_held_by_another_program_is_not_blamed_on_make_run(tmp_path, taken_port):
    message = stack.port_taken_message(taken_port, "API_PORT", _stack_file(tmp_path, api_url=taken_port + 1))
    assert f"port {taken_port}" in message and "another program holds it" in message
    assert "make run` holds it" not in message
    assert "API_PORT=<free port> make run" in message
    assert "another program" in stack.port_taken_message(taken_port, "API_PORT", tmp_path / "none.json")


def test_a_port_held_by_a_running_stack_says_so_per_the_stack_file(tmp_path, taken_port):
    stack_file = _stack_file(tmp_path, aws_endpoint_url=taken_port)
    message = stack.port_taken_message(taken_port, "MOTO_PORT", stack_file)
    assert "a running `make run` holds it (its moto server" in message
    assert "MOTO_PORT=<free port> make run" in message


def test_port_5000_names_macos_airplay(tmp_path):
    message = stack.port_taken_message(5000, "MOTO_PORT", tmp_path / "none.json")
    assert "AirPlay" in message and "MOTO_PORT=<free port> make run" in message


def test_only_the_taken_ports_are_reported(taken_port):
    with socket.socket() as free:
        free.bind((env.HOST, 0))
        free_port = free.getsockname()[1]
    problems = stack.taken_ports({"API_PORT": taken_port, "CONSOLE_PORT": free_port})
    assert len(problems) == 1 and f"port {taken_port}" in problems[0] and "(API_PORT)" in problems[0]
