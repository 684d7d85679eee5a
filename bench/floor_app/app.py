"""The floor rows of `make bench-cold-start`: bench/minimal_app (one Chalice route, one PynamoDB GetItem,
its client created by the first request) plus what the deployed app does on any first request.

FLOOR_LAYERS picks them, each done the way app.py does it, with nothing of the app's own code but the
module that does that layer: `gc` (the cyclic collector paused until the first invocation ends, then the
start frozen: chalicelib/startup.py), `tracer` (chalicelib/xray.py: the botocore session instrumented,
the request in a `## route` subsegment, each sent by UDP to the daemon), `logs` (chalicelib/logs.py and
chalicelib/metrics.py: the invocation's keys on a JSON log line, an EMF document flushed), `models` (the
answer rendered through a chalicelib.typed model, as every route's response is), `pydantic` (the same
answer through a pydantic model instead: what the routes did before chalicelib.typed), `token` (the
caller's Cognito ID token verified by chalicelib/auth.py: the pool's JWKS fetched, RS256 checked). The
baseline itself stays bench/minimal_app, unchanged.
"""

import os
import sys
from pathlib import Path

LAYERS = set(filter(None, os.environ.get("FLOOR_LAYERS", "").split(",")))
if LAYERS - {"pydantic"}:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # chalicelib
if "gc" in LAYERS:
    from chalicelib import startup

    startup.pause()

from chalice import Chalice  # noqa: E402
from pynamodb.attributes import UnicodeAttribute  # noqa: E402
from pynamodb.models import Model  # noqa: E402

app = Chalice(app_name="floor")
if "gc" in LAYERS:
    app.register_middleware(startup.middleware, "all")


class Thing(Model):
    class Meta:
        table_name = "minimal-things"
        region = "ap-southeast-1"

    thing_id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute(null=True)


@app.route("/things/{thing_id}")
def get_thing(thing_id):
    import contextlib

    route = "GET /things/{thing_id}"
    segment = contextlib.nullcontext()
    if "tracer" in LAYERS:
        from chalicelib import xray

        if xray.enabled():
            xray.instrument(Thing._get_connection().connection.session)
        segment = xray.subsegment(f"## {route}")
    if "logs" in LAYERS:
        from chalicelib import logs, metrics

        log = logs.get_logger("floor")
        logs.append_keys(route=route, request_id=app.current_request.context.get("requestId", "-"))
    with segment as subsegment:
        if subsegment is not None:
            subsegment.annotate("route", route)
        if "token" in LAYERS:
            from chalicelib import auth

            auth.authenticate((app.current_request.headers or {}).get("authorization"))
        answer = Thing.get(thing_id).attribute_values
        if "models" in LAYERS:
            from chalicelib.typed import BaseModel, ConfigDict

            class ThingOut(BaseModel):
                model_config = ConfigDict(extra="forbid")
                thing_id: str
                name: str | None = None

            answer = ThingOut.model_validate(answer).model_dump(mode="json", exclude_unset=True)
        if "pydantic" in LAYERS:
            from pydantic import BaseModel, ConfigDict

            class ThingOut(BaseModel):
                model_config = ConfigDict(extra="forbid", defer_build=True)
                thing_id: str
                name: str | None = None

            answer = ThingOut.model_validate(answer).model_dump(mode="json", exclude_unset=True)
        if subsegment is not None:
            subsegment.set_status(200)
    if "logs" in LAYERS:
        log.info("thing read")
        metrics.count("PhotosIngested")
        metrics.flush()
        logs.remove_keys(("route", "request_id"))
    return answer
