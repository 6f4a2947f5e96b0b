"""The menu's schema (``kiosk-menu/1``) as typed models, and its problems as findings.

A menu is what residents trust, so nothing reads it before it is checked.  The
document is validated by pydantic models (strict: ``"5"`` is not 5, an unknown
key is an error, every number has a range); :func:`validate` turns every
problem into a :class:`Finding` with the JSON path the technician edits.

Services, categories and the menu are models read by attribute.  A service's
guide and form are ``TypedDict``s: typed here, plain JSON to the transaction
planner and the screens that read them as data.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

from pydantic import (AfterValidator, BeforeValidator, ConfigDict, Field, ValidationError, ValidationInfo,
                      field_validator, model_validator, with_config)
from pydantic_core import PydanticCustomError
from typing_extensions import NotRequired, TypedDict

from kiosk.i18n import LANGUAGES
from kiosk.schema import Ranged, StrictModel, json_path, kind_of

SCHEMA_ID = "kiosk-menu/1"
LANGS = LANGUAGES  # a menu text is in the UI languages
KINDS = ("即办件", "承诺件")
AUDIENCES = ("个人", "企业")
FLOWS = ("apply", "print_document", "query", "appeal")
IDENTITIES = ("none", "id_card", "id_card_face")
FIELD_TYPES = ("text", "phone", "date", "select", "address", "id-number")
CARD_FIELDS = ("name", "gender", "ethnicity", "birth_date", "address", "id_number")
DELIVERIES = ("onsite_print", "courier", "pickup")
DEVICE_ROLES = ("id_reader", "camera", "document_camera", "qr_scanner", "receipt_printer", "licence_printer")
MAX_PROMISED_DAYS = 365   # a 承诺件 promised for longer than a year is a typo, not a promise
# 边办边补: working days a resident has to hand in a skipped secondary material
DEFAULT_SUPPLEMENT_DAYS, MAX_SUPPLEMENT_DAYS = 10, 60
MAX_FIELD_LENGTH = 2000   # what a resident can type on the kiosk's pad in one field
_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
_REGION_PATTERN = r"^\d{6}$"
_NOT_BLANK = r"\S"
_PATTERN_PROBLEMS = {_ID_PATTERN: "id must be lower-case letters, digits and '-' (at most 64)",
                     _REGION_PATTERN: "expected a six-digit region code (GB/T 2260)"}


@dataclass(frozen=True)
class Finding:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


# -- value types ----------------------------------------------------------------
def _iso_date(value: Any) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise PydanticCustomError("iso_date", "expected an ISO 8601 date (YYYY-MM-DD)") from None


def _iso_datetime(value: Any) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise PydanticCustomError("iso_date", "expected an ISO 8601 date-time with offset") from None
    if parsed.tzinfo is None:
        raise PydanticCustomError("iso_date", "date-time needs a UTC offset, e.g. +08:00")
    return parsed


def _regular_expression(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise PydanticCustomError("regex", "not a valid regular expression: {error}", {"error": str(exc)}) from None
    return pattern


Ident = Annotated[str, Field(pattern=_ID_PATTERN)]
IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]  # ISO text in JSON; strict date after
IsoDateTime = Annotated[dt.datetime, BeforeValidator(_iso_datetime)]
CardSource = Literal[tuple(f"card.{name}" for name in CARD_FIELDS)]  # type: ignore[valid-type]


# -- a service's guide and form: typed, and plain JSON to their readers ------------------
_strict_keys = with_config(ConfigDict(extra="forbid", strict=True))


@_strict_keys
class LocalText(TypedDict):
    """A text in the UI languages; zh_CN is required (the fallback).  Declared, not a validator
    function, so the ~16 texts of every service are checked inside pydantic-core."""
    zh_CN: Annotated[str, Field(pattern=_NOT_BLANK)]
    zh_TW: NotRequired[str]
    en: NotRequired[str]


@_strict_keys
class Material(TypedDict):
    id: Ident
    names: LocalText
    main: bool
    reusable: bool
    originals: NotRequired[bool]


@_strict_keys
class Guide(TypedDict):
    conditions: list[LocalText]
    materials: list[Material]
    legal_basis: list[LocalText]
    fee: LocalText
    time_limit: LocalText
    office: LocalText


@_strict_keys
class FieldValidation(TypedDict):
    pattern: NotRequired[Annotated[str, AfterValidator(_regular_expression)]]


@_strict_keys
class Option(TypedDict):
    value: str
    label: LocalText


@_strict_keys
class _FormFieldKeys(TypedDict):
    id: Ident
    type: Literal[FIELD_TYPES]  # type: ignore[valid-type]
    label: LocalText
    required: bool
    prefill: NotRequired[Union[CardSource, None]]
    validation: NotRequired[Union[FieldValidation, None]]
    options: NotRequired[list[Option]]
    max_length: NotRequired[Ranged(int, 1, MAX_FIELD_LENGTH)]


def _options_only_for_select(spec: dict) -> dict:
    if spec["type"] == "select" and not spec.get("options"):
        raise PydanticCustomError("form_field", "options: a select field needs a non-empty options list")
    if spec["type"] != "select" and "options" in spec:
        raise PydanticCustomError("form_field", "options: options are only for select fields")
    return spec


FormField = Annotated[_FormFieldKeys, AfterValidator(_options_only_for_select)]


# -- services, categories, the document ------------------------------------------------------
class Service(StrictModel):
    id: Ident
    names: LocalText
    audience: Literal[AUDIENCES]  # type: ignore[valid-type]
    kind: Literal[KINDS]  # type: ignore[valid-type]
    promised_days: Ranged(int, 0, MAX_PROMISED_DAYS)
    flow: Literal[FLOWS]  # type: ignore[valid-type]
    guide: Guide
    form: list[FormField]
    identity: Literal[IDENTITIES]  # type: ignore[valid-type]
    requires_devices: list[Literal[DEVICE_ROLES]]  # type: ignore[valid-type]
    delivery: list[Literal[DELIVERIES]]  # type: ignore[valid-type]
    pickup_centres: list[LocalText] = Field(default_factory=list)
    supplement_days: Ranged(int, 1, MAX_SUPPLEMENT_DAYS) = DEFAULT_SUPPLEMENT_DAYS  # 边办边补 deadline
    offline: bool
    effective: IsoDate
    expires: IsoDate

    @field_validator("promised_days")
    @classmethod
    def _days_match_the_kind(cls, days: int, info: ValidationInfo) -> int:
        kind = info.data.get("kind")
        if kind == "承诺件" and days == 0:
            raise PydanticCustomError("promised_days", "a 承诺件 needs promised working days between 1 and {most}",
                                      {"most": MAX_PROMISED_DAYS})
        if kind == "即办件" and days != 0:
            raise PydanticCustomError("promised_days", "a 即办件 is done on the spot: promised_days must be 0")
        return days

    @field_validator("pickup_centres")
    @classmethod
    def _pickup_needs_a_centre(cls, centres: list, info: ValidationInfo) -> list:
        if "pickup" in (info.data.get("delivery") or ()) and not centres:
            raise PydanticCustomError("pickup", "delivery offers pickup but no pickup centre is listed")
        return centres

    @field_validator("expires")
    @classmethod
    def _not_before_effective(cls, expires: dt.date, info: ValidationInfo) -> dt.date:
        effective = info.data.get("effective")
        if effective is not None and expires < effective:
            raise PydanticCustomError("dates", "service expires ({expires}) before it becomes effective ({effective})",
                                      {"expires": expires.isoformat(), "effective": effective.isoformat()})
        return expires

    def name(self, lang: str = "zh_CN") -> str:
        return text(self.names, lang)


class Category(StrictModel):
    id: Ident
    names: LocalText
    icon: str
    services: list[Service]

    @model_validator(mode="before")
    @classmethod
    def _icon_defaults_to_the_id(cls, data: Any) -> Any:
        if isinstance(data, dict) and "icon" not in data and isinstance(data.get("id"), str):
            return {**data, "icon": data["id"]}
        return data

    def name(self, lang: str = "zh_CN") -> str:
        return text(self.names, lang)


class MenuDocument(StrictModel):
    schema_id: Literal[SCHEMA_ID] = Field(alias="schema")  # type: ignore[valid-type]
    version: Ranged(int, 1, 2**31 - 1)
    region: Annotated[str, Field(pattern=_REGION_PATTERN)]
    issued: IsoDateTime
    expires: IsoDateTime
    categories: Annotated[list[Category], Field(min_length=1)]


def text(local_text: dict | str | None, lang: str = "zh_CN") -> str:
    """The text in ``lang``, falling back to zh_CN (always present in a valid menu)."""
    if local_text is None:
        return ""
    if isinstance(local_text, str):
        return local_text
    return local_text.get(lang) or local_text.get("zh_CN") or ""


# -- problems as findings ---------------------------------------------------------------------
_TYPE_WORDS = {"int_type": "an integer", "bool_type": "true or false", "string_type": "a string",
               "list_type": "a list", "model_type": "an object", "dict_type": "an object"}


def validate(doc: Any, model: type[MenuDocument] = MenuDocument) -> list[Finding]:
    """Every schema problem in a parsed menu document, each with its JSON path."""
    return findings_of(doc, model)[1]


def findings_of(doc: Any, model: type[MenuDocument]) -> tuple[MenuDocument | None, list[Finding]]:
    """The validated ``model`` of ``doc``, or None with every problem found."""
    if isinstance(doc, dict) and doc.get("schema") != SCHEMA_ID:
        # another schema's shape would only produce noise
        return None, [Finding("$.schema", f"unsupported schema {doc.get('schema')!r} (this kiosk reads {SCHEMA_ID})")]
    try:
        return model.model_validate(doc), []
    except ValidationError as exc:
        return None, [_finding(error) for error in exc.errors(include_url=False)]


def _finding(error: dict) -> Finding:
    loc, kind, value = error["loc"], error["type"], error.get("input")
    if loc and loc[-1] == "zh_CN" and kind in ("missing", "string_pattern_mismatch"):
        return Finding(json_path(loc[:-1]), "zh_CN text is required")  # reported at the text, as lint does
    if kind == "missing":
        return Finding(json_path(loc[:-1]), f"missing required key {loc[-1]!r}")
    if kind == "extra_forbidden":
        return Finding(json_path(loc), "unknown key")
    if kind in _TYPE_WORDS:
        return Finding(json_path(loc), f"expected {_TYPE_WORDS[kind]}, got {kind_of(value)}")
    if kind == "literal_error":
        choices = error["ctx"]["expected"].replace(" or ", ", ").replace("'", "")
        return Finding(json_path(loc), f"{value!r} is not one of {choices}")
    if kind == "string_pattern_mismatch":
        return Finding(json_path(loc), _PATTERN_PROBLEMS[error["ctx"]["pattern"]])
    if kind == "too_short":
        return Finding(json_path(loc), "must not be empty")
    if kind == "out_of_range":
        return Finding(json_path(loc), f"{value!r} {error['msg']}")
    return Finding(json_path(loc), error["msg"])
