"""What a customer's answer never carries: the staff user ids in items' records.

A module of its own, with no imports: web.route strips these fields from every signed-in customer's
answer, and a route that does not otherwise answer with items (a wallet, a message) need not load the item
response models (chalicelib/responses/items.py, pydantic) for it.
"""

# staff user ids in items' records: kept in staff answers, never sent to customers (web.route strips them)
STAFF_ONLY_FIELDS = frozenset({"purchased_by", "recorded_by", "inspected_by", "marked_by", "offered_by"})


def without_staff_ids(body):
    """`body` (a serialized answer) without STAFF_ONLY_FIELDS at any depth: what a customer may see."""
    if isinstance(body, list):
        return [without_staff_ids(value) for value in body]
    if isinstance(body, dict):
        return {k: without_staff_ids(v) for k, v in body.items() if k not in STAFF_ONLY_FIELDS}
    return body
