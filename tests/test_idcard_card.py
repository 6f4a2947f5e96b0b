"""Card text parsing: the four card types, check digits, tables, masking, fuzzing."""
from __future__ import annotations

import dataclasses
import datetime as dt
import glob
import json

import pytest
from hypothesis import HealthCheck, given, settings

from devices.idcard import fuzzing
from devices.idcard.card import (ETHNICITIES, LONG_TERM, TEXT_LEN, CardDataError, IdCard, card_from_dict,
                                 check_digit, encode_card, id_number_valid, load_card_file, parse_card)
from common.paths import PROJECT_ROOT
from kiosk.privacy import mask_id_number

CARD_DIR = PROJECT_ROOT / "assets" / "cards"
SAMPLE_FILES = sorted(glob.glob(str(CARD_DIR / "*.json")))
SAMPLES = [load_card_file(f) for f in SAMPLE_FILES]
PUBLIC_KEYS = ["card_type", "name", "english_name", "gender", "ethnicity", "birth_date", "address",
               "id_number", "issuer", "valid_from", "valid_to", "nationality"]


@pytest.mark.parametrize("number", ["11010519491231002X", "440524188001010014", "440304194905120026"])
def test_check_digit_accepts_known_valid_numbers(number):
    assert check_digit(number[:17]) == number[17]
    assert id_number_valid(number)


def test_check_digit_rejects_every_other_last_character():
    body = "11010519491231002"
    assert [c for c in "0123456789X" if id_number_valid(body + c)] == ["X"]
    assert not id_number_valid("1101051949123100")      # too short
    assert not id_number_valid("11010519491231002Y")


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda f: f.rsplit("/", 1)[-1])
def test_every_sample_card_survives_encode_then_parse(path):
    card = load_card_file(path)
    text = encode_card(card)
    assert len(text) == TEXT_LEN
    assert parse_card(text, card.photo_wlt) == card


def test_all_four_card_types_are_shipped():
    assert {c.card_type for c in SAMPLES} == {"resident", "hmt_permit", "foreign_2017", "foreign_2023"}


def test_default_sample_is_an_elderly_resident_with_a_valid_number():
    card = load_card_file(CARD_DIR / "resident_elderly.json")
    assert card.card_type == "resident" and card.birth_date.year <= 1950
    assert id_number_valid(card.id_number) and card.valid_to == LONG_TERM


def test_rare_characters_including_a_surrogate_pair_come_through():
    names = {c.name for c in SAMPLES}
    assert "刘䶮" in names and "𠮷喆堃" in names
    card = next(c for c in SAMPLES if c.name == "𠮷喆堃")
    text = encode_card(card)
    assert text[0:6] == "𠮷喆".encode("utf-16-le")        # 𠮷 is two UTF-16 code units
    assert parse_card(text).name == "𠮷喆堃"


def test_resident_layout_offsets_from_the_field_notes():
    card = load_card_file(CARD_DIR / "resident_elderly.json")
    text = encode_card(card)
    assert text[30:32].decode("utf-16-le") == "2"                       # 女
    assert text[32:36].decode("utf-16-le") == "01"                      # 汉
    assert text[36:52].decode("utf-16-le") == "19490512"
    assert text[122:158].decode("utf-16-le") == "440304194905120026"
    assert text[204:208].decode("utf-16-le") == "长期"
    assert text[248:250] == b" \x00"


def test_type_markers_and_foreign_layouts():
    by_type = {c.card_type: c for c in SAMPLES}
    assert encode_card(by_type["hmt_permit"])[248:250] == b"J\x00"
    f17 = encode_card(by_type["foreign_2017"])
    assert f17[248:250] == b"I\x00" and f17[152:158].decode("utf-16-le") == "USA"
    f23 = encode_card(by_type["foreign_2023"])
    assert f23[248:250] == b"Y\x00" and f23[242:248].decode("utf-16-le") == "ESP"


def test_only_trailing_spaces_and_nuls_are_stripped():
    card = next(c for c in SAMPLES if c.card_type == "foreign_2017")
    text = bytearray(encode_card(card))
    name = "VAN DER BERG, ANNA"
    text[0:120] = (name + "\0\0" + " " * 40).encode("utf-16-le")[:120]
    assert parse_card(bytes(text)).english_name == name


def test_hmt_permit_fields():
    card = next(c for c in SAMPLES if c.card_type == "hmt_permit")
    parsed = parse_card(encode_card(card))
    assert (parsed.pass_number, parsed.issue_count, parsed.ethnicity) == ("H10293847", 2, None)


def test_bad_check_digit_is_reported_not_accepted():
    card = dataclasses.replace(SAMPLES[0], card_type="resident", id_number="440304194905120027", ethnicity="汉")
    with pytest.raises(CardDataError) as info:
        parse_card(encode_card(card))
    assert info.value.code == "bad_check_digit"


def test_unknown_type_marker_is_unsupported():
    text = bytearray(encode_card(SAMPLES[0]))
    text[248:250] = b"Z\x00"
    with pytest.raises(CardDataError) as info:
        parse_card(bytes(text))
    assert info.value.code == "unsupported_card"


@pytest.mark.parametrize("offset, value, match", [(30, "5", "gender"), (32, "57", "ethnicity"),
                                                  (36, "19490231", "birth date")])
def test_bad_fields_are_rejected_with_the_field_named(offset, value, match):
    card = load_card_file(CARD_DIR / "resident_elderly.json")
    text = bytearray(encode_card(card))
    raw = value.encode("utf-16-le")
    text[offset:offset + len(raw)] = raw
    with pytest.raises(CardDataError, match=match):
        parse_card(bytes(text))


def test_ethnicity_table_has_all_56_groups_plus_97_and_98():
    assert len(ETHNICITIES) == 58
    assert [f"{i:02d}" for i in range(1, 57)] + ["97", "98"] == list(ETHNICITIES)
    assert (ETHNICITIES["01"], ETHNICITIES["56"], ETHNICITIES["98"]) == ("汉", "基诺", "外国血统中国籍人士")


def test_expiry():
    expired = load_card_file(CARD_DIR / "resident_expired.json")
    assert expired.expired(dt.date(2025, 1, 11)) and not expired.expired(dt.date(2025, 1, 10))
    assert not load_card_file(CARD_DIR / "resident_elderly.json").expired(dt.date(2099, 1, 1))


def test_public_dict_shape_masking_and_nulls():
    card = load_card_file(CARD_DIR / "resident_elderly.json")
    public = card.to_public_dict(mask_id_number)
    assert list(public) == PUBLIC_KEYS
    assert public["id_number"] == "440304********0026"
    assert public["birth_date"] == "1949-05-12" and public["valid_to"] == "长期"
    assert public["english_name"] is None and public["nationality"] is None
    assert card.to_public_dict()["id_number"] == "440304194905120026"
    masked_wide = card.to_public_dict(lambda number: mask_id_number(number, 10, 8))
    assert "19490512" not in json.dumps(masked_wide)   # birth date never shown
    foreign = next(c for c in SAMPLES if c.card_type == "foreign_2023").to_public_dict()
    assert foreign["ethnicity"] is None and foreign["address"] is None and foreign["nationality"] == "ESP"


def test_repr_reveals_no_personal_data():
    card = load_card_file(CARD_DIR / "resident_elderly.json")
    for text in (repr(card), str(card), f"{card}", repr([card])):
        for secret in ("王秀英", "440304", "1949", "莲花", "福田"):
            assert secret not in text


def test_sample_loader_reports_missing_fields_as_card_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"card_type": "resident"}', encoding="utf-8")
    with pytest.raises(CardDataError, match="missing"):
        load_card_file(bad)
    with pytest.raises(CardDataError):
        card_from_dict({**json.loads((CARD_DIR / "resident_elderly.json").read_text()), "card_type": "passport"})


@settings(max_examples=1500, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(fuzzing.card_texts(SAMPLES))
def test_fuzz_parser_rejects_or_returns_a_consistent_card(text):
    card = fuzzing.parse_or_reject(text)    # any exception but CardDataError fails the test
    if card is not None:
        assert isinstance(card, IdCard) and isinstance(card.birth_date, dt.date)
        assert card.card_type == "foreign_2017" or id_number_valid(card.id_number)
