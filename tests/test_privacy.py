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
