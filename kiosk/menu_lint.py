"""Content rules for a menu beyond its shape: what the Taijiang guide reform demands.

Every catch-all clause (兜底条款: "其他材料", "其他相关材料", "……等材料",
"有关部门要求的其他材料" and their variants) is an error, because it lets a
window ask a resident for anything; so is a guide without legal basis or
time limit, a name not translated into every UI language (or "traditional"
text still in simplified characters), an id used twice,
or a service that needs hardware its device list does not declare (the live
availability check could then not grey it out).  Schema problems from
:func:`kiosk.menu_schema.validate` come first, with the same ``path: message`` form.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

from kiosk.menu_schema import LANGS, Finding, validate

_CJK = re.compile(r"[\u3400-\u9fff]")
# Chinese catch-alls (simplified and traditional forms).
_CATCH_ALL_ZH = re.compile(
    r"其[他它餘余](?:的)?(?:相[关關]|有[关關]|必要|必需|所需|需要|需要提交|[应應]提交|[证證]明)?(?:的)?"
    r"(?:材料|[资資]料|[证證]明|文件|[证證]件|要件|条件|條件|情形)"
    r"|等(?:相[关關]|有[关關])?(?:材料|[资資]料|[证證]明文件|[证證]件|文件)"
    r"|(?:有[关關]|相[关關])部[门門](?:要求|规定|規定|认为|認為)"
    r"|(?:规定|規定|要求)的其[他它]"
    r"|[视視]情[况況]"
)
_CATCH_ALL_EN = re.compile(
    r"\bother (?:relevant |required |necessary |supporting |related )?(?:materials?|documents?|papers)\b"
    r"|\betc\b|\band so on\b|\bas required by (?:the )?relevant\b|\bany other\b",
    re.IGNORECASE)
# Common characters that exist only in simplified form (個們這說為證辦務…): zh_TW text holding
# one was copied from zh_CN, not translated.  Characters shared by both scripts are left out.
_SIMPLIFIED_ONLY = frozenset(
    "个们这说为证办务户业资发经门报时间请书记计认设统条让车东买卖厂广问题员关区医学会国对现动机实体点长开无过"
    "还进应从两电产线样结营执龄养险缴费单码号处补贴录询签讯话网络图扫摄联亲属离职劳协议纳税贸价质监规则场档级"
    "园岭头优验权护领诉达态邮递诺预约纸断连阅读仪暂详细选择输项")
_GUIDE_TEXT_KEYS = ("conditions", "legal_basis", "fee", "time_limit", "office")
_FLOW_DEVICES = {"print_document": ("licence_printer", "receipt_printer")}
_IDENTITY_DEVICES = {"id_card": ("id_reader",), "id_card_face": ("id_reader", "camera")}


def lint_document(doc: Any) -> list[Finding]:
    """Schema findings, then content findings; empty means the menu may be signed."""
    findings = validate(doc)
    if findings:
        return findings  # content rules assume the shape is right
    findings += _duplicate_ids(doc)
    for i, category in enumerate(doc["categories"]):
        cpath = f"$.categories[{i}]"
        findings += _untranslated(category["names"], f"{cpath}.names")
        for j, service in enumerate(category["services"]):
            findings += _lint_service(service, f"{cpath}.services[{j}]")
    return findings


def lint_file(path: str | Path) -> list[Finding]:
    """Findings for a menu JSON file; unreadable files raise OSError for the caller to report."""
    raw = Path(path).read_bytes()
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        return [Finding("$", f"not valid JSON: {exc}")]
    return lint_document(doc)


def _lint_service(s: dict, path: str) -> list[Finding]:
    out = _untranslated(s["names"], f"{path}.names")
    guide = s["guide"]
    if not guide["legal_basis"]:
        out.append(Finding(f"{path}.guide.legal_basis", "no legal basis: every guide must cite the law it applies"))
    if not guide["time_limit"].get("zh_CN", "").strip():
        out.append(Finding(f"{path}.guide.time_limit", "no time limit"))
    if s["flow"] == "apply" and not any(m.get("main") for m in guide["materials"]):
        out.append(Finding(f"{path}.guide.materials", "an application needs at least one main material"))
    for text_path, value in _guide_texts(guide, f"{path}.guide"):
        out += _catch_alls(value, text_path)
        out += _simplified_in_traditional(value, text_path)
    for k, material in enumerate(guide["materials"]):
        out += _untranslated(material["names"], f"{path}.guide.materials[{k}].names")
    for k, spec in enumerate(s["form"]):
        out += _untranslated(spec["label"], f"{path}.form[{k}].label")
        for m, option in enumerate(spec.get("options", [])):
            out += _untranslated(option["label"], f"{path}.form[{k}].options[{m}].label")
    declared = set(s["requires_devices"])
    needed = [(role, f"identity {s['identity']}") for role in _IDENTITY_DEVICES.get(s["identity"], ())]
    if s["flow"] in _FLOW_DEVICES and not declared.intersection(_FLOW_DEVICES[s["flow"]]):
        needed.append((" or ".join(_FLOW_DEVICES[s["flow"]]), f"flow {s['flow']}"))
    if "onsite_print" in s["delivery"] and not declared.intersection(("receipt_printer", "licence_printer")):
        needed.append(("a printer", "delivery onsite_print"))
    for role, why in needed:
        if role not in declared:
            out.append(Finding(f"{path}.requires_devices", f"{why} needs {role}, which is not listed"))
    return out


def _guide_texts(guide: dict, path: str) -> Iterator[tuple[str, dict]]:
    for key in _GUIDE_TEXT_KEYS:
        value = guide[key]
        if isinstance(value, list):
            for n, item in enumerate(value):
                yield f"{path}.{key}[{n}]", item
        else:
            yield f"{path}.{key}", value
    for k, material in enumerate(guide["materials"]):
        yield f"{path}.materials[{k}].names", material["names"]


def _catch_alls(local_text: dict, path: str) -> list[Finding]:
    out = []
    for lang, s in local_text.items():
        match = (_CATCH_ALL_EN if lang == "en" else _CATCH_ALL_ZH).search(s)
        if match:
            out.append(Finding(f"{path}.{lang}", f"catch-all clause (兜底条款) {match.group(0)!r}: "
                                                 "list every material and condition explicitly"))
    return out


def _untranslated(local_text: dict, path: str) -> list[Finding]:
    out = []
    for lang in LANGS:
        value = local_text.get(lang, "")
        if not value.strip():
            out.append(Finding(f"{path}.{lang}", "untranslated: missing text"))
        elif lang == "en" and _CJK.search(value):
            out.append(Finding(f"{path}.{lang}", "untranslated: English text contains Chinese characters"))
    return out + _simplified_in_traditional(local_text, path)


def _simplified_in_traditional(local_text: dict, path: str) -> list[Finding]:
    found = "".join(dict.fromkeys(c for c in local_text.get("zh_TW", "") if c in _SIMPLIFIED_ONLY))
    if found:
        return [Finding(f"{path}.zh_TW", f"untranslated: traditional text contains simplified characters {found!r}")]
    return []


def _duplicate_ids(doc: dict) -> list[Finding]:
    out: list[Finding] = []
    categories: dict[str, str] = {}
    services: dict[str, str] = {}
    for i, category in enumerate(doc["categories"]):
        cpath = f"$.categories[{i}]"
        _first_use(categories, category["id"], f"{cpath}.id", "category", out)
        for j, service in enumerate(category["services"]):
            spath = f"{cpath}.services[{j}]"
            _first_use(services, service["id"], f"{spath}.id", "service", out)
            materials: dict[str, str] = {}
            for k, material in enumerate(service["guide"]["materials"]):
                _first_use(materials, material["id"], f"{spath}.guide.materials[{k}].id", "material", out)
            fields: dict[str, str] = {}
            for k, spec in enumerate(service["form"]):
                _first_use(fields, spec["id"], f"{spath}.form[{k}].id", "form field", out)
                values: dict[str, str] = {}
                for m, option in enumerate(spec.get("options", [])):
                    _first_use(values, option["value"], f"{spath}.form[{k}].options[{m}].value", "option value", out)
    return out


def _first_use(seen: dict[str, str], value: str, path: str, what: str, out: list[Finding]) -> None:
    if value in seen:
        out.append(Finding(path, f"duplicate {what} id {value!r} (first used at {seen[value]})"))
    else:
        seen[value] = path
