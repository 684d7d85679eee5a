"""CORS on `make run` over real HTTP, as a storefront on http://localhost:5173 meets it: the browser's
preflight is answered by the app, the actual response names the origin, other origins get nothing."""

from __future__ import annotations

STOREFRONT = "http://localhost:5173"


def test_a_storefront_dev_origin_passes_the_preflight_and_reads_the_response(http):
    preflight = http.call(
        "OPTIONS",
        "/orders/ord_x/pay",
        headers={
            "Origin": STOREFRONT,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,idempotency-key",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == STOREFRONT
    allowed = preflight.headers["Access-Control-Allow-Headers"].lower()
    assert all(h in allowed for h in ("authorization", "content-type", "idempotency-key"))
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]

    response = http.call("GET", "/me", user="alice@example.com", headers={"Origin": STOREFRONT})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == STOREFRONT
    assert "Idempotent-Replayed" in response.headers["Access-Control-Expose-Headers"]
    assert "Origin" in response.headers["Vary"]


def test_another_origin_gets_no_allow_origin_header(http):
    for method in ("OPTIONS", "GET"):
        response = http.call(method, "/health", headers={"Origin": "https://evil.example"})
        assert response.status_code in (200, 204)
        assert "Access-Control-Allow-Origin" not in response.headers


def test_an_unknown_path_and_another_method_are_json_a_storefront_can_read(http):
    for method, path, status in (("GET", "/nope", 404), ("PUT", "/orders/ord_x/pay", 405)):
        response = http.call(method, path, headers={"Origin": STOREFRONT})
        assert response.status_code == status
        assert response.headers["Access-Control-Allow-Origin"] == STOREFRONT
        assert response.json()["error"]["code"] in ("not_found", "method_not_allowed")
