"""Environment for processes that talk to the running local stack (runner, token, job, topup)."""

from __future__ import annotations

import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STACK_FILE = ROOT / ".local" / "stack.json"
MOTO_PORT = 5000
API_PORT = 8000
HOST = "127.0.0.1"


def stage_environment(stage: str = "local") -> dict[str, str]:
    """The stage's environment variables from .chalice/config.json (what Lambda would get)."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    env = dict(config.get("environment_variables", {}))
    env.update(config["stages"][stage].get("environment_variables", {}))
    return env


def apply_stage_environment(stage: str = "local") -> None:
    os.environ.update(stage_environment(stage))


def load_stack() -> dict:
    """The running stack's description, or a clear exit if `make run` is not up."""
    if not STACK_FILE.exists():
        raise SystemExit("No local stack: start it with `make run` (it writes .local/stack.json).")
    return json.loads(STACK_FILE.read_text())


def use_running_stack() -> dict:
    """Point this process at the running stack: stage variables plus the pool ids it created."""
    stack = load_stack()
    apply_stage_environment()
    os.environ["USER_POOL_ID"] = stack["user_pool_id"]
    os.environ["USER_POOL_CLIENT_ID"] = stack["client_id"]
    return stack
