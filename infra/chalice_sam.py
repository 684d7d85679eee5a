"""Chalice's own SAM template for a stage, generated in-process (no zip, no dependency download).

`chalice package` = this template + the deployment zip + the merge of infra/template.py's output.
Building it here (a fraction of a second) lets the generator learn the logical ids Chalice gives each
function and event, and lets the tests check the merged result on every `make test`.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHALICE_DIR = ROOT / ".chalice"


def project_config() -> dict:
    return json.loads((CHALICE_DIR / "config.json").read_text())


def stage_environment(stage: str) -> dict[str, str]:
    """The stage's Lambda environment variables, as Chalice computes them (global, then stage)."""
    config = project_config()
    env = dict(config.get("environment_variables", {}))
    env.update(config["stages"][stage].get("environment_variables", {}))
    return env


def load_app() -> Any:
    """The Chalice app object of app.py (imported once; the caller owns the environment)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import app as application

    return application.app


def chalice_config(stage: str, app: Any):
    from chalice.config import Config

    return Config(
        chalice_stage=stage,
        user_provided_params={"chalice_app": app, "project_dir": str(ROOT)},
        config_from_disk=project_config(),
        default_params={},
    )


class _Options:
    """What SAMTemplateGenerator asks of PackageOptions, answered without an AWS session."""

    def service_principal(self, service: str) -> str:
        return f"{service}.amazonaws.com"


def chalice_resources(stage: str, app: Any) -> list:
    """Chalice's resource models (functions, roles, events, REST API) for `stage`."""
    from chalice.deploy.appgraph import ApplicationGraphBuilder, DependencyBuilder

    config = chalice_config(stage, app)
    application = ApplicationGraphBuilder().build(config, stage)
    return DependencyBuilder().build_dependencies(application)


def chalice_template(stage: str, app: Any | None = None) -> dict:
    """The SAM template `chalice package --stage <stage>` writes, before any merge.

    The two build-stage outputs are filled in the way `chalice package` fills them: the Swagger
    document of the REST API and the stage's policy file; code locations point at ./deployment.zip.
    """
    from chalice.deploy import models
    from chalice.deploy.swagger import CFNSwaggerGenerator
    from chalice.package import SAMTemplateGenerator

    app = app if app is not None else load_app()
    config = chalice_config(stage, app)
    resources = chalice_resources(stage, app)
    for resource in resources:
        if isinstance(resource, models.RestAPI):
            resource.swagger_doc = CFNSwaggerGenerator().generate_swagger(app, resource)
        if isinstance(resource, models.ManagedIAMRole) and isinstance(
            resource.policy, models.FileBasedIAMPolicy
        ):
            resource.policy.document = json.loads((CHALICE_DIR / resource.policy.filename).read_text())
    template = SAMTemplateGenerator(config, _Options()).generate(resources)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "./deployment.zip"
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            resource["Properties"]["ContentUri"] = "./layer-deployment.zip"
    return template


def lambda_functions(stage: str, app: Any | None = None) -> dict[str, Any]:
    """Chalice's LambdaFunction models keyed by handler string (`app.app`, `app.heartbeat`, ...)."""
    from chalice.deploy import models

    app = app if app is not None else load_app()
    return {
        resource.handler: resource
        for resource in chalice_resources(stage, app)
        if isinstance(resource, models.LambdaFunction)
    }


def merge(extra: dict, chalice: dict) -> dict:
    """What `chalice package --merge-template` does: Chalice's deep merge (dicts merge, else replace)."""
    from chalice.package import TemplateDeepMerger

    return TemplateDeepMerger().merge(json.loads(json.dumps(extra)), json.loads(json.dumps(chalice)))


def apply_stage_environment(stage: str) -> None:
    """For command-line use: the stage's variables before anything imports the models."""
    os.environ.update(stage_environment(stage))
