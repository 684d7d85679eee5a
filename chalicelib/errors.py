"""One error type per HTTP status, rendered as the contract's `{"error": {"code", "message"}}`.

CODES is every `error.code` a client can see (the app's, API Gateway's and the local server's): the
contract's Error schema lists them as an enum, and a test finds every code the code base raises in it.
"""

from __future__ import annotations

CODES: dict[str, str] = {
    "validation_error": "400: bad input (`details`: one entry per bad field).",
    "customs_refused": "400: the destination's customs rules refuse the declaration (`details`: the field).",
    "unsupported_link": "400: a product link of no marketplace we read.",
    "invalid_signature": "400: a payment webhook without a valid `X-Signature` / `Stripe-Signature`, or one "
    "PayPal's verify-webhook-signature did not verify.",
    "bad_request": "4xx: a request API Gateway refused before the API saw it.",
    "unauthorized": "401: no token, or an invalid or expired one.",
    "forbidden": "403: the caller lacks the staff group, or would decide on their own object.",
    "not_found": "404: no such object or route, or another customer's.",
    "method_not_allowed": "405: the path exists, the method does not.",
    "conflict": "409: not allowed from the current state.",
    "insufficient_funds": "409: the wallet balance does not cover the amount.",
    "price_changed": "409: prices moved beyond the tolerance (`details`: the lines).",
    "out_of_stock": "409: the shop cannot supply some lines (`details`: the lines).",
    "not_declarable": "409: the tracking number is already awaited for another customer.",
    "services_not_done": "409: paid services of the package not performed or refunded yet (`details`).",
    "too_many_declarations": "409: the customer holds the most open forwarding declarations allowed.",
    # paid extra photos (chalicelib/photo_requests.py)
    "photo_request_open": "409: paid extra photos of the item are still owed (one at a time; packing waits).",
    "package_sealed": "409: the item is in a packed package: no more photos can be taken of it.",
    "not_photographable": "409: the item is not an inspected item in our warehouse.",
    "photos_missing": "409: no photo was uploaded since the photo request.",
    "arrival_photo_required": "409: electronics pass inspection only with an arrival photo; upload one.",
    # after delivery (issue 22): after-sales and insurance claims refused, with the reason in the message
    "outside_inspection_scope": "409: colour, size error and performance are outside the inspection scope.",
    "after_sales_window_closed": "409: the after-sales window after delivery has closed.",
    "not_insured": "409: the package was shipped without insurance, so it has no claim.",
    "claim_window_closed": "409: the claim's window is not open (too early for a loss, or too late).",
    "payload_too_large": "413: the request body is too large.",
    "unsupported_media_type": "415: a body sent without `Content-Type: application/json`.",
    "too_many_requests": "429: over a quota (`details[0].retry_after_seconds`).",
    "internal_error": "500/502: something went wrong on our side.",
    "configuration_error": "500: the stage is not configured.",
    "source_unavailable": "503: a marketplace API did not answer in time or is not configured.",
    "rate_unavailable": "503: no usable exchange rate for the currency asked for.",
    "provider_unavailable": "503: the payment provider did not answer or is not configured.",
    "provider_refused": "422: the payment provider refused the request for good (asking again is no use).",
    "timeout": "504: the request took too long; retry it with the same Idempotency-Key.",
}


class ApiError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, details: list | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details

    def body(self) -> dict:
        error = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"error": error}


class ValidationError(ApiError):
    status = 400
    code = "validation_error"


class Unauthorized(ApiError):
    status = 401
    code = "unauthorized"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class Conflict(ApiError):
    status = 409
    code = "conflict"


class InsufficientFunds(Conflict):
    code = "insufficient_funds"


class TooManyRequests(ApiError):
    status = 429
    code = "too_many_requests"
