"""Environment for processes that talk to the running local stack (runner, token, job, topup)."""

from __future__ import annotations

import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# where `make run` describes itself once ready; LOCAL_STACK_FILE moves it (`make bench` runs a stack of its
# own on free ports and keeps its description apart, so a developer's `make run` is neither found nor touched)
STACK_FILE = Path(os.environ.get("LOCAL_STACK_FILE") or ROOT / ".local" / "stack.json")
HOST = "127.0.0.1"
# the local stack's ports, each settable from the environment (`MOTO_PORT=5050 make run`; README)
PORT_VARIABLES = {"MOTO_PORT": 5000, "API_PORT": 8000, "CONSOLE_PORT": 8080}
# stage variables a developer may set for `make run` (README): the environment wins over config.json
LOCAL_OVERRIDES = ("CORS_ALLOWED_ORIGINS",)


def port_from_environment(name: str, environ: dict | None = None) -> int:
    """The port `name` (a PORT_VARIABLES key) from the environment, else its default; a bad value stops."""
    value = (os.environ if environ is None else environ).get(name, "").strip()
    if not value:
        return PORT_VARIABLES[name]
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise SystemExit(f"{name}={value!r} is not a port number (1-65535)")
    return int(value)


MOTO_PORT = port_from_environment("MOTO_PORT")
API_PORT = port_from_environment("API_PORT")
CONSOLE_PORT = port_from_environment("CONSOLE_PORT")


def stage_environment(stage: str = "local") -> dict[str, str]:
    """The stage's environment variables from .chalice/config.json (what Lambda would get)."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    env = dict(config.get("environment_variables", {}))
    env.update(config["stages"][stage].get("environment_variables", {}))
    return env


def apply_stage_environment(stage: str = "local") -> None:
    os.environ.update(stage_environment(stage))


def local_stack_environment(environ: dict | None = None) -> dict[str, str]:
    """What `make run` runs with: the local stage's variables, the developer's LOCAL_OVERRIDES from
    `environ`, the moto endpoint on MOTO_PORT, and the console's own origin allowed (CONSOLE_ORIGIN)."""
    environ = os.environ if environ is None else environ
    env = stage_environment("local")
    env.update({name: environ[name] for name in LOCAL_OVERRIDES if environ.get(name, "").strip()})
    env["AWS_ENDPOINT_URL"] = f"http://{HOST}:{port_from_environment('MOTO_PORT', environ)}"
    env["CONSOLE_ORIGIN"] = f"http://{HOST}:{port_from_environment('CONSOLE_PORT', environ)}"
    return env


def load_stack() -> dict:
    """The running stack's description, or a clear exit if `make run` is not up."""
    if not STACK_FILE.exists():
        raise SystemExit("No local stack: start it with `make run` (it writes .local/stack.json).")
    return json.loads(STACK_FILE.read_text())


def use_running_stack() -> dict:
    """Point this process at the running stack: stage variables plus the pool ids it created."""
    stack = load_stack()
    apply_stage_environment()
    os.environ["AWS_ENDPOINT_URL"] = stack.get("aws_endpoint_url") or os.environ["AWS_ENDPOINT_URL"]
    os.environ["USER_POOL_ID"] = stack["user_pool_id"]
    os.environ["USER_POOL_CLIENT_ID"] = stack["client_id"]
    return stack
