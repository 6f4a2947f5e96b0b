"""Seed the reference platform so the development kiosk works end to end.

The sample resident (the simulated ID reader's card, assets/cards/
resident_elderly.json unless the config names another) gets, once:

* an approved 个体工商户设立登记 whose 营业执照 is ready to print;
* an approved 社会保险参保证明 ready to print;
* materials on record (户口簿, 居住证) so 材料复用 skips their scans.

Seeding goes through the same intake code as a kiosk's application and is
idempotent (fixed Idempotency-Keys) and keeps a still-valid dev token, so
restarting the kiosk changes nothing.
"""
from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from central import tokens
from central.admin import approve_application, issue_kiosk_token
from central.intake import intake
from central.schemas import ApplicationRequest
from central.storage import Store, canonical_hash

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_CARD = PROJECT_ROOT / "assets" / "cards" / "resident_elderly.json"


def _page(text: str) -> dict:
    """A small stand-in scan: the bytes are what the platform stores and hashes."""
    content = text.encode("utf-8")
    return {"sha256": hashlib.sha256(content).hexdigest(), "content_b64": base64.b64encode(content).decode()}


def sample_applications(card: dict) -> list[tuple[str, dict]]:
    applicant = {"name": card["name"], "id_number": card["id_number"], "card_type": "resident"}
    return [
        ("dev-seed-sole-proprietor", {
            "service_id": "sole-proprietor-registration", "applicant": applicant,
            "form": {"business_name": "福田区秀英便民小卖部", "business_scope": "日用百货零售",
                     "premises": card.get("address", ""), "capital_yuan": "50000"},
            "materials": [{"id": "household-register", "name": "户口簿", "pages": [_page("户口簿 sample scan")]},
                          {"id": "residence-permit", "name": "居住证", "pages": [_page("居住证 sample scan")]}],
            "delivery": {"method": "self_print"}, "submitted_at": None, "offline": False}),
        ("dev-seed-social-insurance", {
            "service_id": "social-insurance-proof", "applicant": applicant,
            "form": {"period": "2025-01 至 2026-10", "insured_types": "养老、医疗、失业、工伤"},
            "materials": [], "delivery": {"method": "self_print"}, "submitted_at": None, "offline": False}),
    ]


def seed(store: Store, kiosk_id: str, region: str, card_path: str | Path | None = None,
         current_token: str | None = None) -> str:
    """Make sure the dev kiosk has a token (``current_token`` if still valid) and the sample records."""
    presented = tokens.authenticate(store, current_token) if current_token else None
    valid = presented is not None and presented["kiosk_id"] == kiosk_id
    token = current_token if valid else issue_kiosk_token(store, kiosk_id, region, hostname="dev")
    card = json.loads(Path(card_path or SAMPLE_CARD).read_text(encoding="utf-8"))
    for key, payload in sample_applications(card):
        state, _ = store.claim_key(kiosk_id, "applications", key, canonical_hash(payload))
        if state != "new":
            continue
        body = ApplicationRequest.model_validate(payload)
        decoded = [(m, [(p.sha256, base64.b64decode(p.content_b64)) for p in m.pages]) for m in body.materials]
        with store.write():
            response = intake(store, kiosk_id, key, body, decoded)
            store.finish_key(kiosk_id, "applications", key, 201, response)
        if response["status"] == "accepted":
            approve_application(store, response["application_no"])
    return token
