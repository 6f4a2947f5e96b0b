"""我的办件 through the core (KioskCore.resident_applications) against the real reference platform
on a loopback port: the platform's list online; offline, plain "cannot show" plus what this kiosk
still holds in its queue for the resident (and never someone else's)."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from kiosk.samples import sample_card

ROOT = Path(__file__).resolve().parent.parent
WAIT_S = 30


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    from central.testing import run_server
    with run_server(tmp_path_factory.mktemp("myapps") / "central.db", kiosk_id="myapps-kiosk") as platform:
        yield platform


def make_core(tmp: Path, url: str, token: str):
    from kiosk import config as cfg
    from kiosk.core import KioskCore
    from kiosk.platform import PlatformClient
    config = cfg.parse(f'[kiosk]\nid = "myapps-kiosk"\ndata_dir = "{tmp / "var"}"\n'
                       f'[platform]\nurl = "{url}"\ntimeout_s = 2.0\n'
                       f"[queue]\nbackoff_base_s = 0.1\nbackoff_cap_s = 0.5\nmin_free_mb = 1\n"
                       f"[heartbeat]\nenabled = false\n"
                       f'[menu]\nbundle = "{ROOT / "assets" / "menus" / "sample.bundle"}"\n', "test.toml", ROOT)
    core = KioskCore(config)
    core.platform = PlatformClient(url, token=token, timeout=2.0)
    core.start()
    return core


def present(platform, core, card) -> None:
    """人证核验 at the real platform (as this kiosk): the session's presence grant."""
    import cv2
    from devices.camera_scenes import FaceScene
    from kiosk.platform import PlatformClient
    frame = cv2.imencode(".jpg", FaceScene().render(1280, 720))[1].tobytes()
    answer = PlatformClient(platform.base_url, token=platform.token).verify_identity(card.to_public_dict(), None,
                                                                                    frame)
    assert answer["match"], answer
    core.session.presence_grant = answer["presence_grant"]


def apply(core, card, service_id: str = "residence-permit-endorsement"):
    core.begin_session()
    assert core.identify(card) is None
    core.start_service(core.menu.service(service_id))
    core.session.form = {"phone": "13812345678"}
    core.session.delivery = {"method": "self_print"}
    return core.submit_application().result(WAIT_S)


def test_online_the_platforms_list_of_the_resident_present(platform, tmp_path):
    core = make_core(tmp_path, platform.base_url, platform.token)
    try:
        submitted = apply(core, sample_card())
        assert submitted.status == "submitted"
        present(platform, core, core.session.card)
        mine = core.resident_applications().result(WAIT_S)
        assert mine.online and mine.queued == []
        numbers = [a["application_no"] for a in mine.applications]
        assert numbers[0] == submitted.application_no
        first = mine.applications[0]
        assert first["service_id"] == "residence-permit-endorsement" and first["timeline"][0]["step"] == "received"
        core.end_session()
        core.begin_session()  # no grant: nothing is read
        from kiosk.platform import PresenceRequired
        with pytest.raises(PresenceRequired):
            core.resident_applications().result(WAIT_S)
    finally:
        core.stop()


def test_offline_says_so_and_lists_what_this_kiosk_queued_for_the_resident_only(platform, tmp_path):
    core = make_core(tmp_path, "http://127.0.0.1:9", platform.token)  # nothing listens there
    try:
        other = dataclass_replace(sample_card(), id_number="11010519491231002X")
        someone_else = apply(core, other)
        mine_queued = apply(core, sample_card())
        assert someone_else.status == mine_queued.status == "queued"
        present(platform, core, core.session.card)
        mine = core.resident_applications().result(WAIT_S)
        assert mine.online is False and mine.applications == []
        assert [q["reference"] for q in mine.queued] == [mine_queued.reference]
        assert mine.queued[0]["state"] == "queued" and mine.queued[0]["service_name"] == "居住证签注"
        assert core.outbox.stats()["depth"] == 2  # looking never takes anything out of the queue
    finally:
        core.stop()


def dataclass_replace(card, **changes):
    import dataclasses
    return dataclasses.replace(card, **changes)


# -- 边办边补 through the core ---------------------------------------------------------------------
def apply_skipping_the_permit(core, card):
    """敬老优待证 with the household register scanned and the residence permit skipped (跳过，稍后补交)."""
    core.begin_session()
    assert core.identify(card) is None
    core.start_service(core.menu.service("elderly-card"))
    page = core.session.temp_dir / "register.jpg"
    page.write_bytes(b"\xff\xd8\xff\xe0 household register")
    core.session.materials = {"household-register": [page]}
    core.session.form = {"phone": "13812345678"}
    core.session.delivery = {"method": "pickup"}
    return core.submit_application().result(WAIT_S)


def test_a_skipped_material_is_owed_then_handed_in_once_through_the_queue(platform, tmp_path):
    import datetime as dt
    from central import services
    core = make_core(tmp_path, platform.base_url, platform.token)
    try:
        submitted = apply_skipping_the_permit(core, sample_card())
        deadline = services.add_working_days(dt.date.today(), 10).isoformat()
        assert [(o["material_id"], o["deadline"]) for o in submitted.response["owed"]] == \
            [("residence-permit", deadline)]
        assert core.print_receipt().result(WAIT_S) is None   # the receipt says what is owed, and by when
        text = core.devices["receipt_printer"].simulator.text()
        text = "".join(text.split())   # long lines wrap (at a space)
        assert "待补交材料" in text and f"深圳经济特区居住证（非深圳户籍申请人提交）（截止{deadline}）" in text
        core.end_session()
        core.begin_session()                      # the resident comes back
        assert core.identify(sample_card()) is None
        present(platform, core, core.session.card)
        mine = core.resident_applications().result(WAIT_S)
        [application] = [a for a in mine.applications if a["application_no"] == submitted.application_no]
        assert core.start_supplement(application) == "materials"
        [todo] = core.transaction.materials_to_scan()
        assert todo["id"] == "residence-permit" and todo["main"] is True   # it needs a page now
        scan = core.session.temp_dir / "permit.jpg"
        scan.write_bytes(b"\xff\xd8\xff\xe0 residence permit")
        core.session.materials["residence-permit"] = [scan]
        assert core.next_step() == "supplement"
        result = core.submit_supplement().result(WAIT_S)
        assert result.status == "submitted", result
        assert result.response["results"] == [{"material_id": "residence-permit", "outcome": "received"}]
        rows = platform.store.all("SELECT status FROM supplements_owed WHERE application_no = ?",
                                  (submitted.application_no,))
        assert [r["status"] for r in rows] == ["received"]
        assert platform.store.all("SELECT 1 AS x FROM materials WHERE application_no = ? AND kind = ?",
                                  (submitted.application_no, "residence-permit")) == [{"x": 1}]
        # nothing is owed any more: 补交 is not offered again
        again = core.resident_applications().result(WAIT_S)
        [application] = [a for a in again.applications if a["application_no"] == submitted.application_no]
        assert core.start_supplement(application) is None
    finally:
        core.stop()


def test_a_supplement_queued_offline_is_delivered_once_when_the_network_returns(platform, tmp_path):
    from kiosk.platform import PlatformClient
    core = make_core(tmp_path, platform.base_url, platform.token)
    try:
        submitted = apply_skipping_the_permit(core, sample_card())
        core.end_session()
        core.begin_session()
        assert core.identify(sample_card()) is None
        present(platform, core, core.session.card)
        mine = core.resident_applications().result(WAIT_S)
        [application] = [a for a in mine.applications if a["application_no"] == submitted.application_no]
        core.start_supplement(application)
        scan = core.session.temp_dir / "permit.jpg"
        scan.write_bytes(b"\xff\xd8\xff\xe0 residence permit, offline")
        core.session.materials["residence-permit"] = [scan]
        core.next_step()
        real = core.sender.client
        core.sender.client = PlatformClient("http://127.0.0.1:9", token="x", timeout=1.0)
        try:
            result = core.submit_supplement().result(WAIT_S)
            assert result.status == "queued" and core.outbox.stats()["depth"] == 1
        finally:
            core.sender.client = real
            core.sender.wake()
        deadline = time.monotonic() + WAIT_S
        while core.outbox.stats()["depth"] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert core.outbox.stats()["depth"] == 0
        assert len(platform.store.all("SELECT 1 AS x FROM materials WHERE application_no = ? AND kind = ?",
                                      (submitted.application_no, "residence-permit"))) == 1
    finally:
        core.stop()


def test_offline_the_receipt_estimates_the_deadline_from_the_menu_and_online_takes_the_platforms():
    import datetime as dt
    from kiosk.workflow import owed_on_receipt
    service = {"supplement_days": 10}
    friday = dt.date(2026, 12, 4)
    assert owed_on_receipt(service, ["residence-permit"], {}, friday) == \
        [{"material_id": "residence-permit", "deadline": "2026-12-18"}]          # 10 working days
    platform_said = {"owed": [{"material_id": "residence-permit", "name": "居住证", "deadline": "2026-12-21",
                               "status": "awaiting_supplement", "reason": None}]}
    assert owed_on_receipt(service, ["residence-permit"], platform_said, friday) == \
        [{"material_id": "residence-permit", "deadline": "2026-12-21"}]
    assert owed_on_receipt(service, [], {}, friday) == []
