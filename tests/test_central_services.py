"""The platform's service list comes from the menu it published (central/services.py): a
published menu changes kinds and promised days at once, in every worker; an unknown service,
or any service under an unusable menu, goes to manual review; nothing is refused."""
from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from central import admin, services
from central.testing import run_server
from kiosk.menu_bundle import canonical_payload, load_private_key, sign_payload
from kiosk.platform import PlatformClient
from tests.test_central_intake import application

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = json.loads((ROOT / "assets" / "menus" / "sample.json").read_text(encoding="utf-8"))


def menu_with(service_id: str, kind: str, days: int) -> dict:
    doc = json.loads(json.dumps(SAMPLE))
    for category in doc["categories"]:
        for service in category["services"]:
            if service["id"] == service_id:
                service["kind"], service["promised_days"] = kind, days
    return doc


@pytest.fixture
def platform(tmp_path):
    with run_server(tmp_path / "central.db") as running:
        yield running, PlatformClient(running.base_url, running.token, timeout=10)


def submit(client, service_id: str) -> dict:
    return client.create_application(application(service_id), str(uuid.uuid4()))


def test_the_sample_menu_until_one_is_published_then_the_published_one(platform):
    running, client = platform
    first = submit(client, "birth-registration")
    assert (first["kind"], first["status"], first["service_name"]) == ("immediate", "approved", "生育登记")
    assert first["documents"][0]["title"] == "生育登记服务单"
    bundle = sign_payload(canonical_payload(menu_with("birth-registration", "承诺件", 3)),
                          load_private_key(ROOT / "assets" / "menus" / "dev" / "dev-menu.key"))
    admin.publish_menu(running.store, bundle)
    later = submit(client, "birth-registration")
    assert (later["kind"], later["status"], later["promised_days"]) == ("promised", "accepted", 3)
    assert later["documents"] == []


def test_unknown_services_and_unusable_menus_go_to_manual_review(platform):
    running, client = platform
    unknown = submit(client, "not-in-the-menu")
    assert (unknown["kind"], unknown["status"], unknown["promised_days"]) == ("promised", "accepted", 5)
    admin.publish_menu(running.store, b'{"schema": "kiosk-menu/1"}')
    reviewed = submit(client, "birth-registration")
    assert (reviewed["kind"], reviewed["promised_days"]) == ("promised", services.DEFAULT_PROMISED_DAYS)


def test_a_plain_menu_and_a_bundle_give_the_same_services():
    payload = canonical_payload(SAMPLE)
    bundle = sign_payload(payload, load_private_key(ROOT / "assets" / "menus" / "dev" / "dev-menu.key"))
    assert services.services_of(bundle) == services.services_of(payload)
    assert services.services_of(payload)["elderly-card"] == services.Service(
        "elderly-card", "敬老优待证办理", "promised", 5, "敬老优待证", "certificate", supplement_days=10,
        secondary=(("residence-permit", "深圳经济特区居住证（非深圳户籍申请人提交）"),))
