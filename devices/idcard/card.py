"""The card data a SAM hands back, parsed into :class:`IdCard`.

The 256-byte text block is UTF-16LE padded with spaces; the field layout
depends on the card type marker at offset 248 (space: resident card, 'J':
Hong Kong/Macau/Taiwan residence permit, 'I': foreign permanent resident card
2017, 'Y': the 2023 version).  Only trailing spaces/NULs are stripped because
English names contain inner spaces.  Numbers that carry a GB 11643 check
digit are verified: a bad one is an error, never a silently accepted card.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from devices.idcard.protocol import IdCardError

TEXT_LEN = 256
PHOTO_LEN = 1024
LONG_TERM = "长期"
TYPE_OFFSET = 248

CARD_TYPES = ("resident", "hmt_permit", "foreign_2017", "foreign_2023")
_MARKER_TO_TYPE = {" ": "resident", "\0": "resident", "J": "hmt_permit", "I": "foreign_2017", "Y": "foreign_2023"}
_TYPE_TO_MARKER = {"resident": " ", "hmt_permit": "J", "foreign_2017": "I", "foreign_2023": "Y"}

GENDERS = {"0": "未知", "1": "男", "2": "女", "9": "未说明"}

# GB 3304 ethnicity codes as printed on the card (without 族).
ETHNICITIES = {
    "01": "汉", "02": "蒙古", "03": "回", "04": "藏", "05": "维吾尔", "06": "苗", "07": "彝", "08": "壮",
    "09": "布依", "10": "朝鲜", "11": "满", "12": "侗", "13": "瑶", "14": "白", "15": "土家", "16": "哈尼",
    "17": "哈萨克", "18": "傣", "19": "黎", "20": "傈僳", "21": "佤", "22": "畲", "23": "高山", "24": "拉祜",
    "25": "水", "26": "东乡", "27": "纳西", "28": "景颇", "29": "柯尔克孜", "30": "土", "31": "达斡尔",
    "32": "仫佬", "33": "羌", "34": "布朗", "35": "撒拉", "36": "毛南", "37": "仡佬", "38": "锡伯", "39": "阿昌",
    "40": "普米", "41": "塔吉克", "42": "怒", "43": "乌孜别克", "44": "俄罗斯", "45": "鄂温克", "46": "德昂",
    "47": "保安", "48": "裕固", "49": "京", "50": "塔塔尔", "51": "独龙", "52": "鄂伦春", "53": "赫哲",
    "54": "门巴", "55": "珞巴", "56": "基诺", "97": "其他", "98": "外国血统中国籍人士",
}
_ETHNICITY_CODES = {name: code for code, name in ETHNICITIES.items()}
_GENDER_CODES = {name: code for code, name in GENDERS.items()}

# (field, byte offset, byte length) per card type; the rest of the 256 bytes is reserved.
LAYOUTS: dict[str, tuple[tuple[str, int, int], ...]] = {
    "resident": (
        ("name", 0, 30), ("gender", 30, 2), ("ethnicity", 32, 4), ("birth_date", 36, 16),
        ("address", 52, 70), ("id_number", 122, 36), ("issuer", 158, 30),
        ("valid_from", 188, 16), ("valid_to", 204, 16),
    ),
    "hmt_permit": (
        ("name", 0, 30), ("gender", 30, 2), ("birth_date", 36, 16),
        ("address", 52, 70), ("id_number", 122, 36), ("issuer", 158, 30),
        ("valid_from", 188, 16), ("valid_to", 204, 16), ("pass_number", 220, 18), ("issue_count", 238, 4),
    ),
    "foreign_2017": (
        ("english_name", 0, 120), ("gender", 120, 2), ("id_number", 122, 30), ("nationality", 152, 6),
        ("name", 158, 30), ("valid_from", 188, 16), ("valid_to", 204, 16), ("birth_date", 220, 16),
        ("card_version", 236, 4), ("issuer", 240, 8),
    ),
    "foreign_2023": (
        ("name", 0, 30), ("gender", 30, 2), ("issue_count", 32, 4), ("birth_date", 36, 16),
        ("english_name", 52, 70), ("id_number", 122, 36),
        ("valid_from", 188, 16), ("valid_to", 204, 16), ("english_name_more", 220, 22), ("nationality", 242, 6),
    ),
}

_CHECK_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"


class CardDataError(IdCardError):
    """The card's text block is not a well-formed card of a known type."""

    def __init__(self, message: str, code: str = "bad_card_data"):
        super().__init__(message, code)


def check_digit(first17: str) -> str:
    """GB 11643 (ISO 7064 MOD 11-2) check character for 17 digits."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise CardDataError("ID number body must be 17 digits", "bad_id_number")
    return _CHECK_CHARS[sum(int(d) * w for d, w in zip(first17, _CHECK_WEIGHTS)) % 11]


def id_number_valid(number: str) -> bool:
    try:
        return len(number) == 18 and check_digit(number[:17]) == number[17].upper()
    except CardDataError:
        return False


@dataclass(eq=True)
class IdCard:
    card_type: str
    name: str
    id_number: str
    birth_date: dt.date
    valid_from: dt.date
    valid_to: dt.date | str          # a date, or LONG_TERM
    gender: str = ""
    ethnicity: str | None = None
    address: str | None = None
    issuer: str | None = None
    english_name: str | None = None
    nationality: str | None = None   # ISO 3166 alpha-3 as stored on the card
    pass_number: str | None = None   # HMT permits: the 通行证 number
    issue_count: int | None = None   # HMT: 签发次数; 2023 foreign card: renewals
    photo_wlt: bytes = field(default=b"", repr=False)

    def __repr__(self) -> str:
        # Never reveal personal data, even in a traceback or a debug log.
        return f"IdCard(card_type={self.card_type!r}, valid_to={'long-term' if self.valid_to == LONG_TERM else 'date'})"

    __str__ = __repr__

    def expired(self, today: dt.date) -> bool:
        return isinstance(self.valid_to, dt.date) and self.valid_to < today

    def to_public_dict(self, mask_id: Callable[[str], str] | None = None) -> dict[str, Any]:
        """The CLI/JSON shape: every key present, absent ones None, dates ISO.

        ``mask_id`` is the kiosk's masking rule (kiosk.privacy), passed in because
        the rule belongs to the kiosk; without it the ID number is given whole.
        """
        return {
            "card_type": self.card_type,
            "name": self.name,
            "english_name": self.english_name,
            "gender": self.gender or None,
            "ethnicity": self.ethnicity,
            "birth_date": self.birth_date.isoformat(),
            "address": self.address,
            "id_number": mask_id(self.id_number) if mask_id else self.id_number,
            "issuer": self.issuer,
            "valid_from": self.valid_from.isoformat(),
            "valid_to": self.valid_to if self.valid_to == LONG_TERM else self.valid_to.isoformat(),
            "nationality": self.nationality,
        }


# -- parsing --------------------------------------------------------------

def parse_card(text: bytes, photo: bytes = b"") -> IdCard:
    """Parse the 256-byte text block (and keep the WLT photo as it is)."""
    if len(text) != TEXT_LEN:
        raise CardDataError(f"text block is {len(text)} bytes, expected {TEXT_LEN}")
    marker = _field(text, TYPE_OFFSET, 2)
    card_type = _MARKER_TO_TYPE.get(marker[:1] or " ")
    if card_type is None:
        raise CardDataError(f"unknown card type marker {text[TYPE_OFFSET:TYPE_OFFSET + 2].hex()}", "unsupported_card")
    raw = {name: _field(text, off, size) for name, off, size in LAYOUTS[card_type]}

    gender = GENDERS.get(raw["gender"])
    if gender is None:
        raise CardDataError("gender code is not 0/1/2/9")
    ethnicity = None
    if card_type == "resident":
        ethnicity = ETHNICITIES.get(raw["ethnicity"])
        if ethnicity is None:
            raise CardDataError("ethnicity code is not in GB 3304")
    number = raw["id_number"].upper()
    if card_type != "foreign_2017" and not id_number_valid(number):
        raise CardDataError("ID number check digit (GB 11643) does not match", "bad_check_digit")
    if card_type == "foreign_2017" and not (len(number) == 15 and number[:3].isalpha() and number[3:].isdigit()):
        raise CardDataError("permit number is not 3 letters + 12 digits")
    name = raw["name"]
    if not name:
        raise CardDataError("name is empty")
    english = raw.get("english_name")
    if card_type == "foreign_2023" and raw["english_name_more"]:
        # The name runs on at offset 220; a space at the break is part of it.
        english = text[52:122].decode("utf-16-le") + raw["english_name_more"]
    return IdCard(
        card_type=card_type,
        name=name,
        id_number=number,
        birth_date=_date(raw["birth_date"], "birth date"),
        valid_from=_date(raw["valid_from"], "valid-from date"),
        valid_to=LONG_TERM if raw["valid_to"] == LONG_TERM else _date(raw["valid_to"], "valid-to date"),
        gender=gender,
        ethnicity=ethnicity,
        address=raw.get("address") or None,
        issuer=raw.get("issuer") or None,
        english_name=english or None,
        nationality=raw.get("nationality") or None,
        pass_number=raw.get("pass_number") or None,
        issue_count=_count(raw.get("issue_count")),
        photo_wlt=bytes(photo),
    )


def _field(text: bytes, offset: int, size: int) -> str:
    try:
        value = text[offset:offset + size].decode("utf-16-le")
    except UnicodeDecodeError:
        raise CardDataError(f"field at offset {offset} is not valid UTF-16") from None
    return value.rstrip(" \0")


def _date(value: str, what: str) -> dt.date:
    if len(value) != 8 or not value.isascii() or not value.isdigit():
        raise CardDataError(f"{what} is not YYYYMMDD")
    try:
        return dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        raise CardDataError(f"{what} is not a calendar date") from None


def _count(value: str | None) -> int | None:
    if not value:
        return None
    if not value.isascii() or not value.isdigit():
        raise CardDataError("issue count is not a number")
    return int(value)


# -- encoding (the simulator writes what a SAM would send) -----------------

def encode_card(card: IdCard) -> bytes:
    """The 256-byte text block for ``card``; inverse of :func:`parse_card`."""
    if card.card_type not in LAYOUTS:
        raise CardDataError(f"unknown card type {card.card_type!r}", "unsupported_card")
    values = {
        "name": card.name,
        "gender": _GENDER_CODES.get(card.gender, card.gender),
        "ethnicity": _ETHNICITY_CODES.get(card.ethnicity or "", card.ethnicity or ""),
        "birth_date": card.birth_date.strftime("%Y%m%d"),
        "address": card.address or "",
        "id_number": card.id_number,
        "issuer": card.issuer or "",
        "valid_from": card.valid_from.strftime("%Y%m%d"),
        "valid_to": card.valid_to if card.valid_to == LONG_TERM else card.valid_to.strftime("%Y%m%d"),
        "pass_number": card.pass_number or "",
        "issue_count": "" if card.issue_count is None else f"{card.issue_count:02d}",
        "nationality": card.nationality or "",
        "card_version": "1",
        "english_name": card.english_name or "",
        "english_name_more": "",
    }
    if card.card_type == "foreign_2023":
        values["english_name"], values["english_name_more"] = _split(values["english_name"], 35)
    text = bytearray(" ".encode("utf-16-le") * (TEXT_LEN // 2))
    for name, offset, size in LAYOUTS[card.card_type]:
        encoded = values[name].encode("utf-16-le")
        if len(encoded) > size:
            raise CardDataError(f"{name} does not fit in {size} bytes")
        text[offset:offset + len(encoded)] = encoded
    text[TYPE_OFFSET:TYPE_OFFSET + 2] = _TYPE_TO_MARKER[card.card_type].encode("utf-16-le")
    return bytes(text)


def _split(value: str, units: int) -> tuple[str, str]:
    """Split at a UTF-16 code-unit boundary (English names are ASCII in practice)."""
    head = value.encode("utf-16-le")[:units * 2].decode("utf-16-le", errors="ignore")
    return head, value[len(head):]


# -- sample cards (JSON, as shipped in assets/cards) ------------------------

def card_from_dict(data: dict[str, Any]) -> IdCard:
    """Build a card from the JSON sample shape (no check-digit validation:
    the simulator must be able to present broken cards too)."""
    try:
        valid_to = data["valid_to"]
        card = IdCard(
            card_type=data["card_type"],
            name=data["name"],
            id_number=data["id_number"],
            birth_date=dt.date.fromisoformat(data["birth_date"]),
            valid_from=dt.date.fromisoformat(data["valid_from"]),
            valid_to=valid_to if valid_to == LONG_TERM else dt.date.fromisoformat(valid_to),
            gender=data.get("gender") or "",
            ethnicity=data.get("ethnicity"),
            address=data.get("address"),
            issuer=data.get("issuer"),
            english_name=data.get("english_name"),
            nationality=data.get("nationality"),
            pass_number=data.get("pass_number"),
            issue_count=data.get("issue_count"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CardDataError(f"sample card is missing or has a bad field: {exc}") from None
    if card.card_type not in CARD_TYPES:
        raise CardDataError(f"unknown card type {card.card_type!r}", "unsupported_card")
    card.photo_wlt = synthetic_photo(card.id_number)
    return card


def load_card_file(path: str | Path) -> IdCard:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CardDataError(f"cannot read sample card {path}: {exc}") from None
    if not isinstance(data, dict):
        raise CardDataError(f"sample card {path} is not a JSON object")
    return card_from_dict(data)


def synthetic_photo(seed: str) -> bytes:
    """1024 stand-in bytes for the WLT photo of a sample card.  Not an image:
    real WLT data comes only from a real card and decodes only with a vendor
    library."""
    out = b""
    counter = 0
    while len(out) < PHOTO_LEN:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return out[:PHOTO_LEN]
