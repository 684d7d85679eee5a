"""The customs rules (chalicelib/rules/customs.py): tax id formats with their published examples, the IOSS
rule for low-value EU parcels, and the CN22/CN23 choice at the UPU limit."""

from __future__ import annotations

import pytest

from chalicelib import config
from chalicelib.rules import customs as rules

RULES = rules.Rules.from_json(config.CUSTOMS_DEFAULTS)
TEE = rules.Line("Cotton T-shirt", 2, 2500)


# valid/invalid CPFs from poliquin/brazilnum's README; the check digits recomputed below by hand
@pytest.mark.parametrize("cpf", ["968.811.342-58", "96881134258", "111.444.777-35"])
def test_a_cpf_with_both_check_digits_right_is_valid(cpf):
    assert rules.valid_cpf(cpf)


@pytest.mark.parametrize(
    "cpf", ["327.861.067-97", "968.811.342-59", "968.811.342-48", "111.111.111-11", "9688113425", "abc"]
)
def test_a_cpf_with_a_wrong_check_digit_or_shape_is_refused(cpf):
    assert not rules.valid_cpf(cpf)


def test_the_cpf_check_digits_by_hand():
    # 111.444.777: sum 1*10+1*9+1*8+4*7+4*6+4*5+7*4+7*3+7*2 = 162; 162*10 % 11 = 3
    # then 1*11+1*10+1*9+4*8+4*7+4*6+7*5+7*4+7*3+3*2 = 204; 204*10 % 11 = 5
    assert rules.valid_cpf("11144477735") and not rules.valid_cpf("11144477736")


def test_pccc_and_ioss_formats():
    assert rules.valid_pccc("P123123123123")  # the KCS example (FedEx's notice)
    assert not any(map(rules.valid_pccc, ["P12312312312", "123123123123", "p123123123123", "P12312312312X"]))
    assert rules.valid_ioss("IM0123456789")
    assert not any(map(rules.valid_ioss, ["IM012345678", "EU0123456789", "IM01234567890"]))


def test_brazil_and_korea_need_the_recipients_tax_id():
    with pytest.raises(rules.CustomsRefusal, match="CPF") as refused:
        rules.declare("BR", [TEE], None, None, RULES)
    assert refused.value.field == "customs.recipient_tax_id"
    with pytest.raises(rules.CustomsRefusal, match="is not a CPF"):
        rules.declare("BR", [TEE], "968.811.342-59", None, RULES)
    assert rules.declare("br", [TEE], "968.811.342-58", None, RULES).recipient_tax_id == "968.811.342-58"
    with pytest.raises(rules.CustomsRefusal, match="Personal Customs Clearance Code"):
        rules.declare("KR", [TEE], "12345", None, RULES)
    assert rules.declare("KR", [TEE], "P123123123123", None, RULES).form == "CN22"
    assert rules.declare("US", [TEE], None, None, RULES).recipient_tax_id is None


def test_a_low_value_eu_parcel_is_declared_under_ioss_and_a_dearer_one_is_not():
    with pytest.raises(rules.CustomsRefusal, match="IOSS") as refused:
        rules.declare("FR", [TEE], None, None, RULES)
    assert refused.value.field == "customs.ioss_number"
    assert rules.declare("FR", [TEE], None, "IM0123456789", RULES).ioss_number == "IM0123456789"
    with pytest.raises(rules.CustomsRefusal, match="IM and 10 digits"):
        rules.declare("FR", [TEE], None, "IM123", RULES)
    business = rules.Rules.from_json({**config.CUSTOMS_DEFAULTS, "ioss_number": "IM2760000001"})
    assert rules.declare("DE", [TEE], None, None, business).ioss_number == "IM2760000001"
    dear = rules.Line("Leather jacket", 1, RULES.ioss_max_fen + 1)
    assert rules.declare("FR", [dear], None, None, RULES).ioss_number is None  # import VAT on arrival
    with pytest.raises(rules.CustomsRefusal, match="IOSS covers"):
        rules.declare("FR", [dear], None, "IM0123456789", RULES)
    with pytest.raises(rules.CustomsRefusal, match="IOSS covers"):
        rules.declare("US", [TEE], None, "IM0123456789", RULES)
    at_limit = rules.Line("Wool coat", 1, RULES.ioss_max_fen)
    assert rules.declare("FR", [at_limit], None, "IM0123456789", RULES).ioss_number  # "up to" includes it


def test_a_cn22_up_to_the_upu_limit_and_a_cn23_above():
    limit = RULES.cn22_max_fen
    assert rules.form_for(limit, RULES) == "CN22" and rules.form_for(limit + 1, RULES) == "CN23"
    two = [rules.Line("Phone case", 3, 1000), rules.Line("Charger", 1, limit)]
    declared = rules.declare("US", two, None, None, RULES)
    assert (declared.total_fen, declared.form) == (limit + 3000, "CN23")
    assert declared.as_json()["lines"][0] == {
        "description_en": "Phone case",
        "quantity": 3,
        "unit_value_fen": 1000,
        "value_fen": 3000,
        "hs_code": None,
        "origin": "CN",
        "item_id": None,
    }


def test_an_empty_declaration_is_refused():
    with pytest.raises(rules.CustomsRefusal):
        rules.declare("US", [], None, None, RULES)
