"""bench/capacity.py sizes items and rounds units as DynamoDB's documentation says (cited there)."""

from __future__ import annotations

from bench import capacity


def test_a_string_is_its_name_and_utf8_bytes():
    assert capacity.item_size({"id": {"S": "abc"}, "名": {"S": "é"}}) == (2 + 3) + (3 + 2)


def test_a_number_is_one_byte_per_two_significant_digits_plus_one():
    assert capacity.value_size({"N": "12345"}) == 3 + 1
    assert capacity.value_size({"N": "-0.00120"}) == 1 + 1  # leading and trailing zeroes trimmed
    assert capacity.value_size({"N": "100"}) == 1 + 1


def test_a_map_or_list_costs_three_bytes_and_one_per_element():
    assert capacity.value_size({"M": {}}) == 3
    assert capacity.value_size({"L": [{"BOOL": True}, {"NULL": True}]}) == 3 + 2 * (1 + 1)
    assert capacity.value_size({"M": {"ab": {"S": "x"}}}) == 3 + 1 + 2 + 1


def test_writes_round_up_to_a_kilobyte_and_reads_to_four():
    assert capacity._write_units(0) == 1
    assert capacity._write_units(1025) == 2
    assert capacity._read_units(4096) == 1
    assert capacity._read_units(4097) == 2
