"""The steps of one resident transaction, decided by the service's guide.

A service asks for what it needs and nothing more: the ID card only if its
identity level says so, a live face check only for ``id_card_face``, a form
only if it has fields, scans only of main materials the platform does not
already hold for this resident (材料复用 — a resident who submitted a
material before only brings the ID card), a signature for applications, a
delivery choice only when there is more than one.  Secondary materials may
follow later (边办边补), so they are offered but never block submission.

Kivy-free: screens ask ``Transaction.current`` which screen to show, call
``advance()``/``back()``, and validate the form with :func:`validate_field`.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from kiosk.id_number import id_number_valid  # GB 11643: birth date and check digit, one implementation
from kiosk import i18n
from kiosk.i18n import N_

IDENTIFY, FACE, FORM, MATERIALS, SIGN, DELIVERY, CONFIRM, RESULT, RATING = (
    "identify", "face", "form", "materials", "sign", "delivery", "confirm", "result", "rating")

# Resident-facing wording for validation problems: msgids of the gettext catalogues.
PROBLEMS: dict[str, str] = {
    "required": N_("此项必须填写"),
    "phone": N_("请输入11位手机号码"),
    "date": N_("请按 年-月-日 填写日期，如 2026-11-22"),
    "id_number": N_("身份证号码有误，请核对"),
    "select": N_("请从列表中选择一项"),
    "pattern": N_("格式不正确，请核对"),
    "too_long": N_("内容过长"),
}


def attr(obj: Any, key: str, default: Any = None) -> Any:
    """``obj[key]`` for plain JSON (dicts), ``obj.key`` for model objects (Service, IdCard)."""
    return obj.get(key, default) if isinstance(obj, dict) else getattr(obj, key, default)


def validate_field(spec: dict, value: Any) -> str | None:
    """Return a problem key of :data:`PROBLEMS`, or None when the value is acceptable."""
    text = "" if value is None else str(value).strip()
    if not text:
        return "required" if spec.get("required") else None
    if len(text) > int(spec.get("max_length", 200)):
        return "too_long"
    kind = spec.get("type", "text")
    if kind == "phone" and not re.fullmatch(r"1[3-9]\d{9}", text):
        return "phone"
    if kind == "date":
        try:
            dt.date.fromisoformat(text)
        except ValueError:
            return "date"
    if kind == "id-number" and not id_number_valid(text.upper()):
        return "id_number"
    if kind == "select" and text not in {str(o.get("value")) for o in spec.get("options", [])}:
        return "select"
    pattern = (spec.get("validation") or {}).get("pattern")
    if pattern:
        try:
            if not re.fullmatch(pattern, text):
                return "pattern"
        except re.error:  # `kioskctl menu lint` rejects bad patterns; never block a resident on one
            return None
    return None


def problem_text(problem: str, language: str | None = None) -> str:
    """What the resident is told about ``problem``, in ``language`` (default: the UI's)."""
    return i18n.gettext(PROBLEMS[problem], language)


def prefill(form: list[dict], card: Any) -> dict[str, str]:
    """Values for fields whose ``prefill`` names a card field (``card.name`` …)."""
    values: dict[str, str] = {}
    if card is None:
        return values
    for spec in form:
        source = spec.get("prefill") or ""
        if source.startswith("card."):
            value = attr(card, source[5:])
            if isinstance(value, (dt.date, dt.datetime)):
                value = value.isoformat()
            if value:
                values[spec["id"]] = str(value)
    return values


@dataclass
class Transaction:
    """Where one resident is in one service, and what is still needed."""
    service: Any
    reusable_on_record: set[str] = field(default_factory=set)  # material ids the platform holds
    steps: list[str] = field(default_factory=list)
    index: int = 0

    def __post_init__(self) -> None:
        if not self.steps:
            self.steps = plan(self.service, self.reusable_on_record)

    @property
    def current(self) -> str:
        return self.steps[self.index]

    def advance(self) -> str:
        self.index = min(self.index + 1, len(self.steps) - 1)
        return self.current

    def back(self) -> str | None:
        """The previous step, or None when backing out of the service."""
        if self.index == 0 or self.current in (RESULT, RATING):
            return None
        self.index -= 1
        return self.current

    def materials_to_scan(self) -> list[dict]:
        return materials_to_scan(self.service, self.reusable_on_record)


def materials_to_scan(service: Any, reusable_on_record: set[str]) -> list[dict]:
    """Main materials first (they block), then secondary ones (边办边补, optional)."""
    guide = attr(service, "guide", {}) or {}
    todo = []
    for material in guide.get("materials", []):
        if material.get("id") == "id-card":
            continue  # the card itself was read by the reader
        if material.get("reusable") and material.get("id") in reusable_on_record:
            continue
        todo.append(material)
    return sorted(todo, key=lambda m: not m.get("main", True))


# Flows that show the platform's records of the resident: the platform answers only with a proof
# of presence (central.grants), which 人证核验 gives -- so they check the face even where the menu
# asks for the card alone.
SHOWS_RESIDENT_RECORDS = ("print_document", "query")


def plan(service: Any, reusable_on_record: set[str] | frozenset = frozenset()) -> list[str]:
    flow = attr(service, "flow", "apply")
    identity = attr(service, "identity", "id_card")
    steps: list[str] = []
    if identity in ("id_card", "id_card_face"):
        steps.append(IDENTIFY)
    if identity == "id_card_face" or (identity == "id_card" and flow in SHOWS_RESIDENT_RECORDS):
        steps.append(FACE)
    if flow != "apply":
        # print_document / query / appeal have their own single screen after identification
        return steps + [flow]
    if attr(service, "form"):
        steps.append(FORM)
    if materials_to_scan(service, set(reusable_on_record)):
        steps.append(MATERIALS)
    steps.append(SIGN)
    if len(attr(service, "delivery", []) or []) > 1:
        steps.append(DELIVERY)
    steps += [CONFIRM, RESULT, RATING]
    return steps
