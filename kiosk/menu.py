"""The service menu: categories of services, each with its 办事指南 and form.

A menu is what residents trust, so it is checked before anything reads it:
:func:`validate` walks the versioned schema (``kiosk-menu/1``) and reports
every problem with its JSON path; :func:`load_menu` / :func:`menu_from_document`
refuse a menu with any such problem (``MenuError``, one line).  Content rules
that are policy rather than shape (兜底条款, missing legal basis, untranslated
names) live in :mod:`kiosk.menu_lint`.

Guides and forms stay plain JSON (``Service.guide`` is a dict, ``Service.form``
a list of dicts) because the transaction planner and the screens read them as
data; the objects here add names, lookup, search and live availability.
Nothing here imports Kivy.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

SCHEMA_ID = "kiosk-menu/1"
LANGS = ("zh_CN", "zh_TW", "en")
_LANG_SET = frozenset(LANGS)
KINDS = ("即办件", "承诺件")
AUDIENCES = ("个人", "企业")
FLOWS = ("apply", "print_document", "query", "appeal")
IDENTITIES = ("none", "id_card", "id_card_face")
FIELD_TYPES = ("text", "phone", "date", "select", "address", "id-number")
CARD_FIELDS = ("name", "gender", "ethnicity", "birth_date", "address", "id_number")
DELIVERIES = ("onsite_print", "courier", "pickup")
DEVICE_ROLES = ("id_reader", "camera", "document_camera", "qr_scanner", "receipt_printer", "licence_printer")
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")

LocalText = dict  # {"zh_CN": ..., "zh_TW": ..., "en": ...}; zh_CN required


class MenuError(Exception):
    """A menu that cannot be used, phrased as one line for a technician."""


def text(local_text: LocalText | str | None, lang: str = "zh_CN") -> str:
    """The text in ``lang``, falling back to zh_CN (always present in a valid menu)."""
    if local_text is None:
        return ""
    if isinstance(local_text, str):
        return local_text
    return local_text.get(lang) or local_text.get("zh_CN") or ""


# -- schema validation ------------------------------------------------------
@dataclass(frozen=True)
class Finding:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class _Checker:
    """Collects findings while walking the document; paths are JSONPath-like ($.a[0].b)."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []

    def add(self, path: str, message: str) -> None:
        self.findings.append(Finding(path, message))

    def obj(self, value: Any, path: str, required: dict[str, Any], optional: dict[str, Any] = {}) -> bool:
        """Check ``value`` is an object with the listed keys; types are checked by the caller."""
        if not isinstance(value, dict):
            self.add(path, f"expected an object, got {_kind(value)}")
            return False
        for key in required:
            if key not in value:
                self.add(path, f"missing required key {key!r}")
        for key in value:
            if key not in required and key not in optional:
                self.add(f"{path}.{key}", "unknown key")
        return True

    def typed(self, value: Any, path: str, types: type | tuple, what: str) -> bool:
        if type(value) is types:
            return True  # exact match (never bool for int): the common case, checked first
        if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
            self.add(path, f"expected {what}, got a boolean")
            return False
        if not isinstance(value, types):
            self.add(path, f"expected {what}, got {_kind(value)}")
            return False
        return True

    def local_text(self, value: Any, path: str) -> None:
        if not _valid_local_text(value):
            self._local_text_findings(value, path)

    def _local_text_findings(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            self.add(path, f"expected a localised text object, got {_kind(value)}")
            return
        if not isinstance(value.get("zh_CN"), str) or not value.get("zh_CN", "").strip():
            self.add(path, "zh_CN text is required")
        for lang, s in value.items():
            if lang not in LANGS:
                self.add(f"{path}.{lang}", f"unknown language (expected one of {', '.join(LANGS)})")
            elif not isinstance(s, str):
                self.add(f"{path}.{lang}", f"expected a string, got {_kind(s)}")

    def text_list(self, value: Any, path: str, allow_empty: bool = True) -> None:
        if not self.typed(value, path, list, "a list"):
            return
        if not value and not allow_empty:
            self.add(path, "must not be empty")
        for i, item in enumerate(value):
            if not _valid_local_text(item):
                self._local_text_findings(item, f"{path}[{i}]")

    def choice(self, value: Any, path: str, choices: tuple) -> None:
        if value not in choices:
            self.add(path, f"{value!r} is not one of {', '.join(map(str, choices))}")

    def ident(self, value: Any, path: str) -> None:
        if not isinstance(value, str) or not _ID.match(value):
            self.add(path, "id must be lower-case letters, digits and '-' (at most 64)")

    def date(self, value: Any, path: str, with_time: bool) -> None:
        try:
            parsed = (dt.datetime if with_time else dt.date).fromisoformat(value)
        except (TypeError, ValueError):
            self.add(path, "expected an ISO 8601 " + ("date-time with offset" if with_time else "date (YYYY-MM-DD)"))
            return
        if with_time and parsed.tzinfo is None:
            self.add(path, "date-time needs a UTC offset, e.g. +08:00")


def _valid_local_text(value: Any) -> bool:
    """The common case, checked without building paths or messages (~16 texts a service)."""
    if type(value) is not dict or not value.keys() <= _LANG_SET:
        return False
    try:
        "".join(value.values())  # TypeError unless every value is a string
    except TypeError:
        return False
    return bool(value.get("zh_CN", "").strip())


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null", int: "a number", float: "a number"}.get(type(value), type(value).__name__)


_TOP_REQUIRED = dict.fromkeys(("schema", "version", "region", "issued", "expires", "categories"))
_CATEGORY_REQUIRED = dict.fromkeys(("id", "names", "services"))
_SERVICE_REQUIRED = dict.fromkeys(("id", "names", "audience", "kind", "promised_days", "flow", "guide", "form",
                                   "identity", "requires_devices", "delivery", "offline", "effective", "expires"))
_SERVICE_OPTIONAL = dict.fromkeys(("pickup_centres",))
_GUIDE_REQUIRED = dict.fromkeys(("conditions", "materials", "legal_basis", "fee", "time_limit", "office"))
_MATERIAL_REQUIRED = dict.fromkeys(("id", "names", "main", "reusable"))
_MATERIAL_OPTIONAL = dict.fromkeys(("originals",))
_FIELD_REQUIRED = dict.fromkeys(("id", "type", "label", "required"))
_FIELD_OPTIONAL = dict.fromkeys(("prefill", "validation", "options", "max_length"))
_VALIDATION_KEYS = dict.fromkeys(("pattern",))  # what kiosk.transaction.validate_field applies


def validate(doc: Any) -> list[Finding]:
    """Every schema problem in a parsed menu document, each with its JSON path."""
    c = _Checker()
    if not c.obj(doc, "$", _TOP_REQUIRED):
        return c.findings
    if doc.get("schema") != SCHEMA_ID:
        c.add("$.schema", f"unsupported schema {doc.get('schema')!r} (this kiosk reads {SCHEMA_ID})")
        return c.findings  # another schema's shape would only produce noise
    if c.typed(doc.get("version"), "$.version", int, "an integer") and doc["version"] < 1:
        c.add("$.version", "must be 1 or more")
    if not isinstance(doc.get("region"), str) or not re.fullmatch(r"\d{6}", doc.get("region", "")):
        c.add("$.region", "expected a six-digit region code (GB/T 2260)")
    c.date(doc.get("issued"), "$.issued", with_time=True)
    c.date(doc.get("expires"), "$.expires", with_time=True)
    if c.typed(doc.get("categories"), "$.categories", list, "a list"):
        if not doc["categories"]:
            c.add("$.categories", "must not be empty")
        for i, category in enumerate(doc["categories"]):
            _validate_category(c, category, f"$.categories[{i}]")
    return c.findings


def _validate_category(c: _Checker, category: Any, path: str) -> None:
    if not c.obj(category, path, _CATEGORY_REQUIRED, {"icon": None}):
        return
    c.ident(category.get("id"), f"{path}.id")
    c.local_text(category.get("names"), f"{path}.names")
    if "icon" in category:
        c.typed(category["icon"], f"{path}.icon", str, "a string")
    if c.typed(category.get("services"), f"{path}.services", list, "a list"):
        for j, service in enumerate(category["services"]):
            _validate_service(c, service, f"{path}.services[{j}]")


def _validate_service(c: _Checker, s: Any, path: str) -> None:
    if not c.obj(s, path, _SERVICE_REQUIRED, _SERVICE_OPTIONAL):
        return
    c.ident(s.get("id"), f"{path}.id")
    c.local_text(s.get("names"), f"{path}.names")
    c.choice(s.get("audience"), f"{path}.audience", AUDIENCES)
    c.choice(s.get("kind"), f"{path}.kind", KINDS)
    if c.typed(s.get("promised_days"), f"{path}.promised_days", int, "an integer"):
        days = s["promised_days"]
        if s.get("kind") == "承诺件" and not 0 < days <= 365:
            c.add(f"{path}.promised_days", "a 承诺件 needs promised working days between 1 and 365")
        if s.get("kind") == "即办件" and days != 0:
            c.add(f"{path}.promised_days", "a 即办件 is done on the spot: promised_days must be 0")
    c.choice(s.get("flow"), f"{path}.flow", FLOWS)
    c.choice(s.get("identity"), f"{path}.identity", IDENTITIES)
    if c.typed(s.get("requires_devices"), f"{path}.requires_devices", list, "a list"):
        for k, role in enumerate(s["requires_devices"]):
            c.choice(role, f"{path}.requires_devices[{k}]", DEVICE_ROLES)
    if c.typed(s.get("delivery"), f"{path}.delivery", list, "a list"):
        for k, way in enumerate(s["delivery"]):
            c.choice(way, f"{path}.delivery[{k}]", DELIVERIES)
        if "pickup" in s["delivery"] and not s.get("pickup_centres"):
            c.add(f"{path}.pickup_centres", "delivery offers pickup but no pickup centre is listed")
    if "pickup_centres" in s:
        c.text_list(s["pickup_centres"], f"{path}.pickup_centres")
    c.typed(s.get("offline"), f"{path}.offline", bool, "true or false")
    c.date(s.get("effective"), f"{path}.effective", with_time=False)
    c.date(s.get("expires"), f"{path}.expires", with_time=False)
    _validate_guide(c, s.get("guide"), f"{path}.guide")
    if c.typed(s.get("form"), f"{path}.form", list, "a list"):
        for k, spec in enumerate(s["form"]):
            _validate_field(c, spec, f"{path}.form[{k}]")


def _validate_guide(c: _Checker, guide: Any, path: str) -> None:
    if not c.obj(guide, path, _GUIDE_REQUIRED):
        return
    c.text_list(guide.get("conditions"), f"{path}.conditions")
    c.text_list(guide.get("legal_basis"), f"{path}.legal_basis")
    for key in ("fee", "time_limit", "office"):
        c.local_text(guide.get(key), f"{path}.{key}")
    if c.typed(guide.get("materials"), f"{path}.materials", list, "a list"):
        for k, material in enumerate(guide["materials"]):
            mpath = f"{path}.materials[{k}]"
            if not c.obj(material, mpath, _MATERIAL_REQUIRED, _MATERIAL_OPTIONAL):
                continue
            c.ident(material.get("id"), f"{mpath}.id")
            c.local_text(material.get("names"), f"{mpath}.names")
            for flag in ("main", "reusable", "originals"):
                if flag in material:
                    c.typed(material[flag], f"{mpath}.{flag}", bool, "true or false")


def _validate_field(c: _Checker, spec: Any, path: str) -> None:
    if not c.obj(spec, path, _FIELD_REQUIRED, _FIELD_OPTIONAL):
        return
    c.ident(spec.get("id"), f"{path}.id")
    c.choice(spec.get("type"), f"{path}.type", FIELD_TYPES)
    c.local_text(spec.get("label"), f"{path}.label")
    c.typed(spec.get("required"), f"{path}.required", bool, "true or false")
    prefill = spec.get("prefill")
    if prefill is not None:
        source = prefill[5:] if isinstance(prefill, str) and prefill.startswith("card.") else None
        if source not in CARD_FIELDS:
            c.add(f"{path}.prefill", f"{prefill!r} is not a card field (card.{', card.'.join(CARD_FIELDS)})")
    if "max_length" in spec and c.typed(spec["max_length"], f"{path}.max_length", int, "an integer"):
        if spec["max_length"] < 1:
            c.add(f"{path}.max_length", "must be 1 or more")
    validation = spec.get("validation")
    if validation is not None and c.obj(validation, f"{path}.validation", {}, _VALIDATION_KEYS):
        pattern = validation.get("pattern")
        if pattern is not None:
            try:
                re.compile(pattern)
            except (re.error, TypeError) as exc:
                c.add(f"{path}.validation.pattern", f"not a valid regular expression: {exc}")
    if spec.get("type") == "select":
        options = spec.get("options")
        if not isinstance(options, list) or not options:
            c.add(f"{path}.options", "a select field needs a non-empty options list")
        else:
            for k, option in enumerate(options):
                opath = f"{path}.options[{k}]"
                if c.obj(option, opath, {"value": None, "label": None}):
                    c.typed(option.get("value"), f"{opath}.value", str, "a string")
                    c.local_text(option.get("label"), f"{opath}.label")
    elif "options" in spec:
        c.add(f"{path}.options", "options are only for select fields")


# -- capability-aware availability ----------------------------------------------
# What a resident reads on a greyed-out service: plain words and what happens next.
_DEVICE_NAMES: dict[str, LocalText] = {
    "id_reader": {"zh_CN": "身份证阅读器", "zh_TW": "身分證閱讀器", "en": "ID card reader"},
    "camera": {"zh_CN": "摄像头", "zh_TW": "攝影鏡頭", "en": "camera"},
    "document_camera": {"zh_CN": "高拍仪", "zh_TW": "高拍儀", "en": "document camera"},
    "qr_scanner": {"zh_CN": "扫码器", "zh_TW": "掃碼器", "en": "QR code scanner"},
    "receipt_printer": {"zh_CN": "打印机", "zh_TW": "印表機", "en": "printer"},
    "licence_printer": {"zh_CN": "证照打印机", "zh_TW": "證照印表機", "en": "certificate printer"},
}
_CODE_REASONS: dict[str, LocalText] = {
    "paper_out": {"zh_CN": "{zh_CN}缺纸，暂不可办理", "zh_TW": "{zh_TW}缺紙，暫不可辦理",
                  "en": "The {en} is out of paper; this service is unavailable for now"},
    "cover_open": {"zh_CN": "{zh_CN}舱门未关，暂不可办理", "zh_TW": "{zh_TW}艙門未關，暫不可辦理",
                   "en": "The {en} cover is open; this service is unavailable for now"},
    "paper_jam": {"zh_CN": "{zh_CN}卡纸，暂不可办理", "zh_TW": "{zh_TW}卡紙，暫不可辦理",
                  "en": "The {en} has a paper jam; this service is unavailable for now"},
}
_STATE_REASONS: dict[str, LocalText] = {
    "fault": {"zh_CN": "{zh_CN}故障，暂不可办理", "zh_TW": "{zh_TW}故障，暫不可辦理",
              "en": "The {en} is out of order; this service is unavailable for now"},
    "disconnected": {"zh_CN": "{zh_CN}未连接，暂不可办理", "zh_TW": "{zh_TW}未連接，暫不可辦理",
                     "en": "The {en} is not connected; this service is unavailable for now"},
    "missing": {"zh_CN": "本机未配备{zh_CN}，请到服务窗口办理", "zh_TW": "本機未配備{zh_TW}，請到服務窗口辦理",
                "en": "This kiosk has no {en}; please go to a service window"},
}
OFFLINE_REASON: LocalText = {"zh_CN": "网络中断，该事项需联网办理", "zh_TW": "網路中斷，該事項需連網辦理",
                             "en": "The network is down and this service needs it; please try again later"}
NOT_YET_REASON: LocalText = {"zh_CN": "该事项尚未开通", "zh_TW": "該事項尚未開通",
                             "en": "This service is not open yet"}
ENDED_REASON: LocalText = {"zh_CN": "该事项已停止办理", "zh_TW": "該事項已停止辦理",
                           "en": "This service is no longer offered"}
USABLE_STATES = ("ready", "busy", "warning")  # warning (e.g. paper low) still works


def _device_reason(role: str, template: LocalText) -> LocalText:
    names = _DEVICE_NAMES.get(role, {"zh_CN": role, "zh_TW": role, "en": role})
    return {lang: template[lang].format(**names) for lang in LANGS}


def availability(service: "Service", device_statuses: dict[str, dict], connectivity: str = "online",
                 today: dt.date | None = None) -> tuple[bool, LocalText | None]:
    """Whether a resident can start ``service`` now and, if not, why (in all three languages).

    ``device_statuses`` is ``KioskCore.device_statuses()``: role -> {"state", "code", ...}
    with states ready/busy/warning/fault/disconnected.  A role missing from it is a device
    this kiosk does not have.  ``connectivity`` is "online", "degraded" or "offline";
    degraded still counts as online (requests are slow, not impossible).
    """
    today = today or dt.date.today()
    if today < service.effective:
        return False, NOT_YET_REASON
    if today > service.expires:
        return False, ENDED_REASON
    for role in service.requires_devices:
        status = device_statuses.get(role)
        if status is None:
            return False, _device_reason(role, _STATE_REASONS["missing"])
        state = str(status.get("state", "")).lower()
        code = status.get("code") or ""
        if state in USABLE_STATES and code not in _CODE_REASONS:  # paper_out blocks whatever the state says
            continue
        template = _CODE_REASONS.get(code) or _STATE_REASONS.get(state) or _STATE_REASONS["fault"]
        return False, _device_reason(role, template)
    if connectivity == "offline" and not service.offline:
        return False, OFFLINE_REASON
    return True, None


# -- the model ----------------------------------------------------------------
@dataclass
class Service:
    id: str
    names: LocalText
    audience: str
    kind: str
    promised_days: int
    flow: str
    guide: dict
    form: list[dict]
    identity: str
    requires_devices: list[str]
    delivery: list[str]
    pickup_centres: list[LocalText]
    offline: bool
    effective: dt.date
    expires: dt.date
    raw: dict = field(repr=False)

    def name(self, lang: str = "zh_CN") -> str:
        return text(self.names, lang)

    @classmethod
    def from_raw(cls, raw: dict) -> "Service":
        return cls(id=raw["id"], names=raw["names"], audience=raw["audience"], kind=raw["kind"],
                   promised_days=raw["promised_days"], flow=raw["flow"], guide=raw["guide"], form=raw["form"],
                   identity=raw["identity"], requires_devices=raw["requires_devices"],
                   delivery=raw["delivery"], pickup_centres=raw.get("pickup_centres", []),
                   offline=raw["offline"], effective=dt.date.fromisoformat(raw["effective"]),
                   expires=dt.date.fromisoformat(raw["expires"]), raw=raw)


@dataclass
class Category:
    id: str
    names: LocalText
    icon: str
    services: list[Service]

    def name(self, lang: str = "zh_CN") -> str:
        return text(self.names, lang)


class Menu:
    """A validated menu; build with :func:`load_menu` or :func:`menu_from_document`."""

    def __init__(self, doc: dict):
        self.raw = doc
        self.schema: str = doc["schema"]
        self.version: int = doc["version"]
        self.region: str = doc["region"]
        self.issued = dt.datetime.fromisoformat(doc["issued"])
        self.expires = dt.datetime.fromisoformat(doc["expires"])
        self.categories = [
            Category(id=c["id"], names=c["names"], icon=c.get("icon", c["id"]),
                     services=[Service.from_raw(s) for s in c["services"]])
            for c in doc["categories"]]
        self._services = {s.id: s for s in self.services()}
        from kiosk.menu_search import SearchIndex  # pypinyin is heavy; only menus need it
        self.index = SearchIndex(self.services())

    def services(self) -> Iterator[Service]:
        for category in self.categories:
            yield from category.services

    def service(self, service_id: str) -> Service:
        try:
            return self._services[service_id]
        except KeyError:
            raise KeyError(f"no service {service_id!r} in menu version {self.version}") from None

    def search(self, query: str, limit: int = 20) -> list[Service]:
        """Services matching a name fragment (any language), pinyin initials or full pinyin."""
        return self.index.search(query, limit)

    def __repr__(self) -> str:
        return f"<Menu v{self.version} {self.region} {len(self._services)} services>"


def menu_from_document(doc: Any) -> Menu:
    """A Menu from an already parsed document; MenuError names the first problem."""
    findings = validate(doc)
    if findings:
        more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
        raise MenuError(f"{findings[0]}{more}")
    seen: set[str] = set()
    for category in doc["categories"]:
        for s in category["services"]:
            if s["id"] in seen:
                raise MenuError(f"service id {s['id']!r} appears twice")
            seen.add(s["id"])
    return Menu(doc)


def load_menu(path: str | Path) -> Menu:
    """Read and validate a plain menu JSON file (the payload a signed bundle carries)."""
    path = Path(path)
    try:
        doc = json.loads(path.read_bytes())
    except OSError as exc:
        raise MenuError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (ValueError, RecursionError) as exc:
        raise MenuError(f"{path}: not valid JSON: {exc}") from None
    try:
        return menu_from_document(doc)
    except MenuError as exc:
        raise MenuError(f"{path}: {exc}") from None
