"""Every command in README.md works as written: each ```sh block runs in bash against the running stack
(the curl walkthrough included), except the few named below with the reason; every `make <target>` the
README mentions is a real target."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"^```sh\n(.*?)^```", README, re.MULTILINE | re.DOTALL)
# a line the block starts with -> why this test does not run it, and what exercises it instead
NOT_RUN = {
    "make run ": "the stack itself: the e2e fixture starts it the same way (python -m infra.local.stack); "
    "make test is this suite",
    "make demo": "tests/e2e/test_make_demo.py runs it and checks its output",
    "MOTO_PORT=5050 make run": "a stack on other ports; tests/unit/test_local_settings.py checks them",
    "make package ": "needs the package registry for the Lambda zip; tests/integration/test_deployable.py "
    "builds the same template in-process",
    "aws sesv2 ": "needs an AWS account",
    "POOL=$(aws ": "needs an AWS account",
}
# what each block that runs must print (its last commands' answers)
EXPECT = {
    "TOKEN=": ['"email": "alice@example.com"'],
    "API=": ['"total_fen"', '"status": "pending_review"', '"status": "approved"', '"balance_fen"'],
    "make job JOB=storage_sweep": [
        "storage_sweep at 2027-03-01T09:00:00Z: done",
        "deadline entries read",
        "reminder emails sent",
        "items abandoned",
        '"job": "storage_sweep"',
        '"now": "2027-01-01T09:00:00Z"',
    ],
    "curl -s http://127.0.0.1:8000/currencies": [
        '"currency": "USD"',
        '"price_minor"',
        '"code": "validation_error"',
        '"currency": "JPY"',
        '"balance_minor"',
        '"currency": null',
    ],
}


def _first_line(block: str) -> str:
    return block.strip().splitlines()[0]


def _reason(block: str) -> str | None:
    first = _first_line(block)
    return next((why for start, why in NOT_RUN.items() if first.startswith(start)), None)


def test_every_block_is_run_or_has_a_reason():
    assert len(BLOCKS) >= 6
    for block in BLOCKS:
        first = _first_line(block)
        assert _reason(block) or any(first.startswith(start) for start in EXPECT), (
            f"README block starting {first!r} is neither run by test_readme.py nor listed in NOT_RUN"
        )


@pytest.mark.parametrize("start", list(EXPECT))
def test_a_readme_block_runs_as_written(local_stack, start):
    (block,) = [b for b in BLOCKS if _first_line(b).startswith(start)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TABLE_", "PHOTO_", "USER_POOL"))}
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, (
        f"{block}\n--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}"
    )
    for expected in EXPECT[start]:
        assert expected in done.stdout, (expected, done.stdout[-3000:])


def test_every_make_target_the_readme_names_exists():
    targets = sorted(set(re.findall(r"\bmake (?:-s )?([a-z][a-z-]*)", README)))
    assert {"run", "test", "demo", "token", "topup", "job", "openapi", "bench-load", "package"} <= set(
        targets
    )
    for target in targets:
        done = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, check=False)
        assert done.returncode == 0, (target, done.stderr)


def test_the_readme_shows_what_make_job_prints():
    """The `make job` example's output in README.md names every count the sweep always reports."""
    from infra.local.job import COUNTS

    example = README[README.index("$ make job JOB=storage_sweep") :]
    example = example[: example.index("```")]
    for label in COUNTS["storage_sweep"].values():
        assert label in example, label
