"""chalicelib/xray.py against a real UDP socket on loopback standing in for the X-Ray daemon: the documents
a traced invocation sends (the route's subsegment from the observability middleware, one per AWS call
through botocore's events), what is not sent, and failures to send that never reach the request."""

from __future__ import annotations

import json
import socket
import threading
from types import SimpleNamespace

import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.stub import Stubber

from chalicelib import observability, xray

TRACE = "1-67890abc-0123456789abcdef01234567"
OTHER_TRACE = "1-67890abd-fedcba9876543210fedcba98"
LAMBDA_SEGMENT = "53995c3f42cd8ad8"


def header(trace: str = TRACE, sampled: str = "1") -> str:
    return f"Root={trace};Parent={LAMBDA_SEGMENT};Sampled={sampled}"


@pytest.fixture
def daemon(monkeypatch):
    """A UDP socket on a free loopback port, as AWS_XRAY_DAEMON_ADDRESS, inside a traced Lambda."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.3)
    monkeypatch.setenv("AWS_XRAY_DAEMON_ADDRESS", f"127.0.0.1:{sock.getsockname()[1]}")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "procure-prod-api_handler")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "false")
    monkeypatch.setenv("_X_AMZN_TRACE_ID", header())
    yield sock
    sock.close()


def received(sock: socket.socket) -> list[dict]:
    """Every document sent so far, each checked to be one datagram: the daemon header, newline, JSON."""
    docs = []
    while True:
        try:
            data = sock.recv(65536)
        except TimeoutError:
            return docs
        first, _, body = data.partition(b"\n")
        assert json.loads(first) == {"format": "json", "version": 1}
        docs.append(json.loads(body))


@pytest.fixture
def dynamodb():
    """A DynamoDB client of a session instrumented as chalicelib/aws.py's shared one is in a Lambda."""
    session = botocore.session.Session()
    xray.instrument(session)
    client = session.create_client(
        "dynamodb", region_name="ap-southeast-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stub:
        yield client, stub


def request(method: str = "GET", path: str = "/orders/{order_id}") -> SimpleNamespace:
    return SimpleNamespace(
        method=method,
        path=path,
        context={"requestId": "api-req-1", "resourcePath": path},
        headers={"x-correlation-id": "corr-1"},
        lambda_context=SimpleNamespace(aws_request_id="lambda-req-1"),
    )


def answered(status: int = 200) -> SimpleNamespace:
    return SimpleNamespace(status_code=status, headers={})


def get_item(client, table: str = "procure-prod-orders") -> None:
    client.get_item(TableName=table, Key={"pk": {"S": "1"}})


def ok_item(stub: Stubber, request_id: str) -> None:
    stub.add_response(
        "get_item",
        {"Item": {"pk": {"S": "1"}}, "ResponseMetadata": {"RequestId": request_id, "HTTPStatusCode": 200}},
    )


def serve(client) -> SimpleNamespace:
    """One invocation through the observability middleware whose handler reads one item."""
    return observability._middleware(request(), lambda _: (get_item(client), answered(200))[1])


def by_name(docs: list[dict]) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for doc in docs:
        found.setdefault(doc["name"], []).append(doc)
    return found


def test_a_traced_request_sends_its_route_subsegment_and_one_per_dynamodb_call_under_it(daemon, dynamodb):
    client, stub = dynamodb
    ok_item(stub, "REQ1")
    stub.add_response(
        "query",
        {"Items": [], "Count": 0, "ResponseMetadata": {"RequestId": "REQ2", "HTTPStatusCode": 200}},
    )

    def handler(_):
        get_item(client)
        client.query(
            TableName="procure-prod-items",
            IndexName="by_order",
            KeyConditionExpression="o = :o",
            ExpressionAttributeValues={":o": {"S": "1"}},
        )
        return answered(200)

    observability._middleware(request(), handler)
    docs = by_name(received(daemon))
    [route] = docs["## GET /orders/{order_id}"]
    assert route["type"] == "subsegment" and route["trace_id"] == TRACE
    assert route["parent_id"] == LAMBDA_SEGMENT and len(route["id"]) == 16
    int(route["id"], 16)
    assert route["annotations"] == {"route": "GET /orders/{order_id}", "correlation_id": "corr-1"}
    assert route["http"] == {"response": {"status": 200}}
    assert not {"error", "fault", "throttle", "cause", "namespace"} & set(route)
    calls = docs["dynamodb"]
    assert [c["aws"]["operation"] for c in calls] == ["GetItem", "Query"]
    for call in calls:
        assert call["type"] == "subsegment" and call["namespace"] == "aws"
        assert call["trace_id"] == TRACE and call["parent_id"] == route["id"] and call["id"] != route["id"]
        assert route["start_time"] <= call["start_time"] <= call["end_time"] <= route["end_time"]
        assert call["http"] == {"response": {"status": 200}}
        assert not {"error", "fault", "throttle", "cause"} & set(call)
    assert calls[0]["aws"] == {
        "operation": "GetItem",
        "region": "ap-southeast-1",
        "table_name": "procure-prod-orders",
        "request_id": "REQ1",
    }
    assert calls[1]["aws"]["table_name"] == "procure-prod-items"
    assert calls[1]["aws"]["index_name"] == "by_order" and calls[1]["aws"]["request_id"] == "REQ2"


def test_an_aws_call_carries_the_trace_header_naming_its_subsegment(daemon):
    session = botocore.session.Session()
    xray.instrument(session)
    client = session.create_client(
        "dynamodb", region_name="ap-southeast-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    sent = []

    class Raw:
        def stream(self, **_):
            yield b'{"Item": {"pk": {"S": "1"}}}'

    def answer(request, **_):  # what the service gets, answered without a network
        sent.append(request)
        return AWSResponse(request.url, 200, {"x-amzn-requestid": "REQ9"}, Raw())

    client.meta.events.register("before-send.dynamodb.GetItem", answer)
    with xray.subsegment("## route"):
        get_item(client)
    [call] = by_name(received(daemon))["dynamodb"]
    assert sent[0].headers["X-Amzn-Trace-Id"].decode() == f"Root={TRACE};Parent={call['id']};Sampled=1"
    assert call["aws"]["request_id"] == "REQ9" and call["http"] == {"response": {"status": 200}}
    assert "X-Amzn-Trace-Id" not in sent[0].headers["Authorization"].decode()  # never signed


def test_transactions_and_batches_name_their_tables(daemon, dynamodb):
    client, stub = dynamodb
    stub.add_response("transact_write_items", {})
    stub.add_response("batch_get_item", {"Responses": {}})
    key = {"pk": {"S": "1"}}
    with xray.subsegment("## route"):
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "t-orders", "Item": key}},
                {"Update": {"TableName": "t-wallet", "Key": key, "UpdateExpression": "SET a=b"}},
                {"ConditionCheck": {"TableName": "t-orders", "Key": key, "ConditionExpression": "x"}},
            ]
        )
        keys = {"Keys": [key]}
        client.batch_get_item(RequestItems={"t-b": keys, "t-a": keys})
    calls = by_name(received(daemon))["dynamodb"]
    assert [c["aws"]["table_names"] for c in calls] == [["t-orders", "t-wallet"], ["t-a", "t-b"]]


def test_sampled_0_or_no_header_sends_nothing(daemon, dynamodb, monkeypatch):
    client, stub = dynamodb
    for value in (header(sampled="0"), f"Root={TRACE};Sampled=1", ""):
        monkeypatch.setenv("_X_AMZN_TRACE_ID", value)
        ok_item(stub, "REQ1")
        assert serve(client).status_code == 200
    monkeypatch.delenv("_X_AMZN_TRACE_ID")
    ok_item(stub, "REQ1")
    serve(client)
    assert received(daemon) == []


def test_tracing_off_outside_a_lambda_or_disabled_sends_nothing(daemon, dynamodb, monkeypatch):
    client, stub = dynamodb
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    ok_item(stub, "REQ1")
    serve(client)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "false")
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME")
    ok_item(stub, "REQ1")
    serve(client)
    assert not observability.tracing_enabled()
    assert received(daemon) == []


def test_a_failing_aws_call_is_an_error_with_its_cause_a_5xx_a_fault_a_throttle_a_throttle(daemon, dynamodb):
    client, stub = dynamodb
    stub.add_client_error(
        "get_item", "ConditionalCheckFailedException", "The conditional request failed", http_status_code=400
    )
    stub.add_client_error("get_item", "InternalServerError", "Internal server error", http_status_code=500)
    stub.add_client_error(
        "get_item", "ProvisionedThroughputExceededException", "Rate exceeded", http_status_code=400
    )
    with xray.subsegment("## route"):
        for _ in range(3):
            with pytest.raises(client.exceptions.ClientError):
                get_item(client)
    lost, failed, throttled = by_name(received(daemon))["dynamodb"]
    assert lost["error"] is True and "fault" not in lost and "throttle" not in lost
    assert lost["http"]["response"]["status"] == 400
    [exception] = lost["cause"]["exceptions"]
    assert exception["type"] == "ConditionalCheckFailedException" and exception["remote"] is True
    assert exception["message"] == "The conditional request failed" and len(exception["id"]) == 16
    assert failed["fault"] is True and "error" not in failed
    assert failed["cause"]["exceptions"][0]["type"] == "InternalServerError"
    assert throttled["throttle"] is True and throttled["error"] is True and "fault" not in throttled


def test_a_call_without_an_answer_is_a_fault_with_its_exception(daemon):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    session = botocore.session.Session()
    xray.instrument(session)
    client = session.create_client(
        "dynamodb",
        region_name="ap-southeast-1",
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=1),
    )
    with xray.subsegment("## route") as route, pytest.raises(Exception) as raised:
        get_item(client)
    [call] = by_name(received(daemon))["dynamodb"]
    assert call["fault"] is True and call["parent_id"] == route.id and "http" not in call
    [exception] = call["cause"]["exceptions"]
    assert exception["type"] == type(raised.value).__name__ and exception["remote"] is False
    assert exception["stack"] and all({"path", "line", "label"} <= set(frame) for frame in exception["stack"])


def test_a_failing_handler_marks_the_route_a_fault_and_the_request_still_answers(daemon, dynamodb):
    client, stub = dynamodb
    ok_item(stub, "REQ1")

    def handler(_):
        get_item(client)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):  # an event handler's exception goes on to Lambda
        observability._middleware(request(), handler)
    [route] = by_name(received(daemon))["## GET /orders/{order_id}"]
    assert route["fault"] is True
    [exception] = route["cause"]["exceptions"]
    assert (exception["type"], exception["message"], exception["remote"]) == ("RuntimeError", "boom", False)
    assert exception["stack"][0]["label"] == "handler"  # innermost first: where it was raised
    assert exception["stack"][0]["path"] == "tests/unit/test_xray.py"

    # an HTTP route answers its own 500 (chalicelib/web.py records what it caught): a fault, and the answer
    def answering(_):
        try:
            raise KeyError("missing")
        except KeyError as exc:
            xray.record_exception(exc)
        return answered(500)

    assert observability._middleware(request(), answering).status_code == 500
    [route] = by_name(received(daemon))["## GET /orders/{order_id}"]
    assert route["fault"] is True and route["http"]["response"]["status"] == 500
    assert route["cause"]["exceptions"][0]["type"] == "KeyError"
    assert observability._middleware(request(), lambda _: answered(404)).status_code == 404
    [route] = received(daemon)
    assert route["error"] is True and "fault" not in route


def test_an_exception_an_inner_subsegment_recorded_is_named_by_its_id_outside(daemon):
    with pytest.raises(ValueError), xray.subsegment("## route"), xray.subsegment("## cognito jwks"):
        raise ValueError("keys")
    inner, outer = received(daemon)
    assert inner["name"] == "## cognito jwks" and inner["parent_id"] == outer["id"]
    assert outer["cause"] == inner["cause"]["exceptions"][0]["id"] and outer["fault"] is True


def test_no_daemon_or_a_socket_error_changes_nothing_for_the_request(daemon, dynamodb, monkeypatch):
    client, stub = dynamodb
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as gone:
        gone.bind(("127.0.0.1", 0))
        port = gone.getsockname()[1]
    monkeypatch.setenv("AWS_XRAY_DAEMON_ADDRESS", f"127.0.0.1:{port}")
    for _ in range(2):  # a second send after the first found no one
        ok_item(stub, "REQ1")
        assert serve(client).status_code == 200

    class Broken:
        def sendto(self, *_):
            raise OSError("network unreachable")

    monkeypatch.setattr(xray, "_socket", Broken())
    ok_item(stub, "REQ1")
    assert serve(client).status_code == 200
    monkeypatch.setenv("AWS_XRAY_DAEMON_ADDRESS", "not an address")
    assert xray.daemon_address() == xray.DEFAULT_DAEMON


def test_an_oversize_document_loses_its_stacks_then_is_dropped(daemon):
    frames = [{"path": "x" * 200, "line": n, "label": "f"} for n in range(10)]
    cause = {"working_directory": "/", "exceptions": [{"id": "0" * 16, "stack": frames} for _ in range(40)]}
    doc = {"type": "subsegment", "id": "1" * 16, "name": "big", "cause": cause}
    assert xray.send(doc) is True
    [sent] = received(daemon)
    assert len(sent["cause"]["exceptions"]) == 40
    assert all("stack" not in e for e in sent["cause"]["exceptions"])
    assert xray.send({"type": "subsegment", "id": "1" * 16, "name": "x" * 70_000}) is False
    assert received(daemon) == []
    route = xray.Subsegment("## route", TRACE, LAMBDA_SEGMENT)
    for n in range(400):
        route.annotate(f"a{n}", "v" * 1000)
    assert xray.send(route.document()) is False


def test_the_trace_header_is_read_anew_for_every_invocation(daemon, dynamodb, monkeypatch):
    client, stub = dynamodb
    for trace in (TRACE, OTHER_TRACE):
        monkeypatch.setenv("_X_AMZN_TRACE_ID", header(trace))
        ok_item(stub, "REQ1")
        serve(client)
    docs = received(daemon)
    assert [d["trace_id"] for d in docs] == [TRACE, TRACE, OTHER_TRACE, OTHER_TRACE]
    first_route, second_route = (d for d in docs if d["name"].startswith("##"))
    assert first_route["id"] != second_route["id"]
    calls = [d for d in docs if d["name"] == "dynamodb"]
    assert [d["parent_id"] for d in calls] == [first_route["id"], second_route["id"]]


def test_a_worker_thread_s_calls_go_under_the_route_while_it_is_open(daemon, dynamodb):
    client, stub = dynamodb
    ok_item(stub, "REQ1")
    ok_item(stub, "REQ2")

    def in_thread():
        worker = threading.Thread(target=get_item, args=(client,))
        worker.start()
        worker.join()
        return answered(200)

    observability._middleware(request(), lambda _: in_thread())
    get_item(client)  # after the invocation: no subsegment open, nothing recorded
    docs = by_name(received(daemon))
    [route] = docs["## GET /orders/{order_id}"]
    [call] = docs["dynamodb"]
    assert call["parent_id"] == route["id"] and call["aws"]["request_id"] == "REQ1"


def test_annotations_keep_only_what_x_ray_indexes():
    entry = xray.Subsegment("## GET /a?b;c", TRACE, LAMBDA_SEGMENT)
    entry.annotate("route", "GET /a")
    entry.annotate("count", 3)
    entry.annotate("ok", True)
    entry.annotate("bad-key", "x")
    entry.annotate("nested", {"a": 1})
    assert entry.annotations == {"route": "GET /a", "count": 3, "ok": True}
    assert entry.name == "## GET /abc"


def test_a_deep_stack_keeps_its_innermost_frames_and_counts_the_rest(daemon):
    def down(n: int) -> None:
        if n == 0:
            raise RecursionError("deep")
        down(n - 1)

    with pytest.raises(RecursionError), xray.subsegment("## route"):
        down(14)
    [route] = received(daemon)
    [exception] = route["cause"]["exceptions"]
    # 15 calls of down() and this test's frame at least: the innermost MAX_STACK kept, the others counted
    assert len(exception["stack"]) == xray.MAX_STACK and exception["truncated"] >= 16 - xray.MAX_STACK
    assert {(f["path"], f["label"]) for f in exception["stack"]} == {("tests/unit/test_xray.py", "down")}


def test_our_http_calls_are_remote_subsegments_named_after_the_host(daemon):
    with xray.http_call("GET", "https://api.example.com/items?id=1") as untraced:
        untraced.set_status(200)  # no subsegment open: nothing recorded
    assert received(daemon) == []
    with xray.subsegment("## route") as route:
        with xray.http_call("get", "https://user:secret@api.example.com:8443/items?id=1") as call:
            call.set_status(503)
        with pytest.raises(TimeoutError), xray.http_call("POST", "http://rates.example.org/feed"):
            raise TimeoutError("read timed out")
        with pytest.raises(ValueError), xray.http_call("GET", "http://rates.example.org/feed") as call:
            call.set_status(404)
            raise ValueError("not the answer we wanted")  # the status says what went wrong
    unavailable, timed_out, missing, _ = received(daemon)
    assert unavailable["name"] == "api.example.com" and unavailable["namespace"] == "remote"
    assert unavailable["parent_id"] == route.id and unavailable["fault"] is True
    assert unavailable["http"] == {
        "request": {"method": "GET", "url": "https://api.example.com:8443/items"},
        "response": {"status": 503},
    }
    assert timed_out["fault"] is True and timed_out["cause"]["exceptions"][0]["type"] == "TimeoutError"
    assert "response" not in timed_out["http"]
    assert missing["error"] is True and "fault" not in missing and "cause" not in missing
