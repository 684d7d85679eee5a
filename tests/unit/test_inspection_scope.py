"""The inspection scope (seed: Procurement Inspection Scope, Friendly Reminder 1) and the notices an item
carries, as pure rules."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from chalicelib.rules import inspection, notices

OK = {"color": "ok", "damage": "ok", "stains": "ok", "size": "ok", "model": "n/a", "version": "n/a"}


def test_discrepancies_in_color_size_error_and_performance_are_not_within_the_inspection_scope():
    for category in inspection.CATEGORIES:
        label = "M" if category == "apparel" else None
        photos = 1 if category == "electronics" else 0
        checks = dict(OK, color="issue", size="issue")
        found = inspection.assess(
            category, checks, "pass", label_size=label, discrepancies=["performance"], photo_count=photos
        )
        assert found.in_scope_issues == ()
        assert set(found.outside_scope) == inspection.OUTSIDE_INSPECTION_SCOPE
    with pytest.raises(inspection.InspectionRejected):  # nor do they make an item fail
        inspection.assess("general", dict(OK, color="issue"), "issue")


def test_significant_damage_and_stains_are_within_the_scope():
    with pytest.raises(inspection.InspectionRejected):
        inspection.assess("general", dict(OK, damage="issue"), "pass")
    found = inspection.assess("general", dict(OK, stains="issue"), "issue")
    assert found.in_scope_issues == ("stains",)


def test_inspectors_will_send_arrival_photos_for_user_confirmation():
    with pytest.raises(inspection.ArrivalPhotoRequired):
        inspection.assess("electronics", OK, "pass", photo_count=0)
    found = inspection.assess("electronics", OK, "pass", photo_count=1)
    assert found.customer_confirmation_requested
    issue = inspection.assess("electronics", dict(OK, damage="issue"), "issue")  # the customer decides anyway
    assert not issue.customer_confirmation_requested


def test_a_discrepancy_word_outside_the_seeds_list_is_refused():
    with pytest.raises(inspection.InspectionRejected):
        inspection.assess("general", OK, "pass", discrepancies=["smell"])


def item(**fields):
    defaults = {"source": "order", "inspection": None, "status": "in_warehouse", "title": "Cotton T-shirt"}
    return SimpleNamespace(**{**defaults, **fields})


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"status": "purchasing"}, ["third_party"]),
        ({"inspection": {}}, ["third_party", "inspection_scope"]),
        (
            {"status": "inspection_issue", "inspection": {}},
            ["third_party", "inspection_scope", "assumed_agreed"],
        ),
        ({"status": "awaiting_confirmation"}, ["third_party", "inspection_scope", "assumed_agreed"]),
        ({"source": "forwarding", "title": "Oolong tea 500g"}, ["shelf_life"]),
        ({"status": "not_transportable", "source": "forwarding"}, ["transport_conditions"]),
    ],
)
def test_the_product_shelf_life_is_not_within_the_scope_of_storage_and_each_answer_says_what_applies(
    fields, expected
):
    assert [n.key for n in notices.notices_for(item(**fields))] == expected


def test_perishable_looking_titles():
    assert notices.looks_perishable("Green tea 500g") and notices.looks_perishable("Face cream 50ml")
    assert notices.looks_perishable("零食大礼包")
    assert not notices.looks_perishable("Teapot") and not notices.looks_perishable("Power bank 10000mAh")
