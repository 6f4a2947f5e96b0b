"""Typed ID numbers (GB 11643): the check digit and a birth date that exists and is not in the future."""
from __future__ import annotations

import datetime as dt

import pytest

from devices.idcard.card import check_digit
from kiosk import transaction as tx
from kiosk.id_number import id_number_valid

TODAY = dt.date(2026, 11, 22)


def numbered(first17: str) -> str:
    """A number with a correct check digit, so only the date can make it wrong."""
    return first17 + check_digit(first17)


@pytest.mark.parametrize("number", ["11010519491231002X", "440304194905120026", numbered("44030420240229001"),
                                    numbered("44030420261122001")])
def test_real_numbers_pass(number):
    assert id_number_valid(number, TODAY)


@pytest.mark.parametrize("first17, why", [
    ("44030419491331002", "month 13"),
    ("44030419490230002", "30 February"),
    ("44030420250229002", "29 February of a common year"),
    ("44030419490000002", "month 0"),
    ("44030420271122002", "born in the future"),
    ("44030418991231002", "before 1900"),
])
def test_impossible_birth_dates_fail_even_with_a_correct_check_digit(first17, why):
    assert not id_number_valid(numbered(first17), TODAY), why


@pytest.mark.parametrize("number", ["", "1101051949123100", "11010519491231002Y", "11010519491231002X1",
                                    "A1010519491231002X", "110105194912310021"])
def test_malformed_numbers_fail(number):
    assert not id_number_valid(number, TODAY)


def test_the_form_refuses_a_typed_number_with_month_13():
    spec = {"id": "applicant_id", "type": "id-number", "required": True}
    assert tx.validate_field(spec, numbered("44030419491331002")) == "id_number"
    assert tx.validate_field(spec, "440304194905120026") is None
