import pytest

from kiosk.privacy import mask_id_number, mask_name, mask_phone


def test_id_number_default_shows_first6_last4():
    assert mask_id_number("11010519491231002X") == "110105********002X"


@pytest.mark.parametrize("head, tail", [(6, 4), (10, 4), (14, 4), (6, 10), (18, 0), (0, 18)])
def test_birth_date_never_shown_whatever_the_config(head, tail):
    masked = mask_id_number("11010519491231002X", head, tail)
    assert len(masked) == 18
    assert masked[6:14] == "********"


def test_short_or_empty_numbers():
    assert mask_id_number("") == ""
    assert mask_id_number("1234", 6, 4) == "***4"


@pytest.mark.parametrize("name, masked", [
    ("张三", "张*"), ("张小三", "张*三"), ("欧阳娜娜", "欧**娜"), ("王𠮷", "王*"),
    ("李䶮喆", "李*喆"), ("John Smith", "J*** S****"), ("", ""),
])
def test_names(name, masked):
    assert mask_name(name) == masked


def test_phone():
    assert mask_phone("13812345678") == "138****5678"


def test_an_id_number_being_typed_never_shows_its_birth_date():
    from kiosk.privacy import mask_id_typed
    assert mask_id_typed("4403") == "4403"
    assert mask_id_typed("44030419") == "440304**"
    assert mask_id_typed("440304194905120026") == "440304********0026"


@pytest.mark.parametrize("address, masked", [
    ("广东省深圳市福田区华富街道莲花一村12栋304房", "广东省深圳市福田区华富街道****"),
    ("深圳市福田区莲花一村12栋304房", "深圳市福田区****"),
    ("莲花一村12栋304房", "莲花一****"), ("", ""),
])
def test_addresses_keep_their_area_only(address, masked):
    from kiosk.privacy import mask_address
    assert mask_address(address) == masked


def test_clean_text_drops_control_and_format_characters():
    """One sanitiser for residents' text: ESC/POS commands, NULs, bidi overrides and
    zero-width characters never travel; line breaks become spaces."""
    from kiosk.privacy import clean_text
    assert clean_text(" 莲花\x1b@一村\x00 ") == "莲花@一村"
    assert clean_text("王\u202e秀\u200b英\n304房\t") == "王秀英 304房"
    assert clean_text(None) == ""
